# impactflow developer entry points. `make run` and `make test` are the two a new user needs;
# both start with scripts/setup.sh (Postgres, Redis, libchdb.so, Go modules).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
# Targets run in the order written (setup before build before run), even under make -j.
.NOTPARALLEL:

export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

GO      ?= go
BIN     := bin/impactflow
SCENARIO ?=
BENCH_FLAGS ?=

# Test packages run one at a time. -p 2 is only the default on 2 cores, and the integration
# packages each start an embedded Temporal server against the same Postgres, Redis and CPU:
# two at once double the load on a 2-core machine and turn timing into flakes. Compiling is
# still parallel: `go vet` builds every dependency into the cache first.
TEST_P  ?= 1
TEST_FLAGS ?= -count=1 -timeout 30m -p $(TEST_P)

.PHONY: run test build bench setup clean lint vet fmt-check

## run: set up, build, and start the whole platform in the foreground (impactflow dev)
run: setup build
	./$(BIN) dev

## test: set up, vet, check formatting, run every test against real services
test: setup
	$(GO) vet ./...
	@$(MAKE) --no-print-directory fmt-check
	$(GO) test $(TEST_FLAGS) ./...

## build: compile bin/impactflow
build:
	$(GO) build -o $(BIN) ./cmd/impactflow

## bench: drive a running `make run` with a scenario (make bench SCENARIO=name BENCH_FLAGS="-c 8 -d 30s")
bench: build
	./$(BIN) bench $(SCENARIO) $(BENCH_FLAGS)

## setup: Postgres, Redis, libchdb.so and Go modules (idempotent)
setup:
	bash scripts/setup.sh

## lint: go vet and the gofmt check
lint: vet fmt-check

vet:
	$(GO) vet ./...

# gofmt -l over every Go file outside data, build output and testdata; fails listing them.
fmt-check:
	@unformatted=$$(find . -name '*.go' -not -path './.git/*' -not -path './.data/*' \
		-not -path './bin/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; \
		echo "$$unformatted"; \
		exit 1; \
	fi

## clean: remove build output and the dev data directory
clean:
	rm -rf bin .data
