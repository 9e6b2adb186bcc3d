# syntax=docker/dockerfile:1

# ---- build: one static binary
FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# No cgo: pgx, the Temporal SDK and clickhouse-go are pure Go, and in production ClickHouse
# is a server (CLICKHOUSE_URL), so the embedded chDB engine is never loaded.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /impactflow ./cmd/impactflow

# ---- runtime
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/impactflow --create-home impactflow
COPY --from=build /impactflow /usr/local/bin/impactflow
USER impactflow
WORKDIR /var/lib/impactflow
# DATA_DIR holds only local files (no Temporal or chDB data in production).
ENV DATA_DIR=/var/lib/impactflow/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/impactflow"]
CMD ["api"]
