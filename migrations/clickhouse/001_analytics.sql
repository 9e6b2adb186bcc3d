-- ClickHouse schema of the analytics store. Every statement is idempotent (IF NOT EXISTS):
-- `impactflow migrate` and `impactflow dev` run the whole file at every start, on chDB and
-- on a ClickHouse server alike.

CREATE DATABASE IF NOT EXISTS impactflow;

-- Raw impact events, one row per (tenant, event) after merges. version is the Postgres
-- updated_at in microseconds, so a re-synced or updated row replaces the older one; a
-- delete in Postgres arrives as a row with deleted = 1 and a newer version, which FINAL
-- (and merges) drop.
CREATE TABLE IF NOT EXISTS impactflow.events (
    tenant_id      LowCardinality(String),
    event_id       String,
    program_id     UInt64,
    participant_id String,
    kind           LowCardinality(String),
    occurred_at    DateTime64(6, 'UTC'),
    value          Float64,
    location       String,
    cohort         String,
    attributes     String,
    updated_at     DateTime64(6, 'UTC'),
    version        UInt64,
    deleted        UInt8
) ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (tenant_id, event_id);

-- Dimension tables, copied whole at every sync (they are small).
CREATE TABLE IF NOT EXISTS impactflow.tenants (
    tenant_id LowCardinality(String),
    name      String,
    industry  LowCardinality(String),
    region    LowCardinality(String),
    size_band LowCardinality(String),
    version   UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY tenant_id;

CREATE TABLE IF NOT EXISTS impactflow.programs (
    tenant_id  LowCardinality(String),
    program_id UInt64,
    code       String,
    name       String,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, program_id);

-- The sync's watermark: the (updated_at, tenant_id, event_id) of the last row written. It
-- lives beside the data it describes, so an emptied ClickHouse starts again from zero.
-- version is the watermark in microseconds: two runs writing at once keep the larger.
CREATE TABLE IF NOT EXISTS impactflow.sync_state (
    id         String,
    updated_at DateTime64(6, 'UTC'),
    tenant_id  String,
    event_id   String,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- One row per finished sync run, for GET /v1/analytics/sync.
CREATE TABLE IF NOT EXISTS impactflow.sync_runs (
    run_id      String,
    mode        LowCardinality(String),
    tenant_id   String,
    started_at  DateTime64(6, 'UTC'),
    finished_at DateTime64(6, 'UTC'),
    rows        UInt64,
    upserts     UInt64,
    deletes     UInt64
) ENGINE = MergeTree
ORDER BY finished_at;


-- Derived tables. Everything below `events` is computed from it by the sync's last step
-- (UpdateDerived in internal/analytics/derive.go), never written by anything else, so it
-- can always be dropped and rebuilt: Migrate drops a derived table of an older shape
-- (staleDerived in derive.go) and the next sync rebuilds it, which is how a store made by an
-- older impactflow is upgraded (these statements only create what is missing).
--
-- They are kept up to date in two ways (derive.go says when each is used):
-- - a full rebuild, each table built beside the live one and swapped in (EXCHANGE TABLES),
--   from events FINAL: what the refreshable views of earlier versions did at every sync,
--   measured at 46 s for 5,000,000 events on chDB with 2 shared cores (34 s now, in
--   chunks: BenchmarkDerived). The views are gone: their own schedule could rebuild a
--   table between an incremental update's statements;
-- - appending the figures of the events that are new since the last sync. The aggregate
--   tables are AggregatingMergeTrees whose sorting key is their grouping key, so appended
--   rows are summed and their states merged with the old ones (by queries, which aggregate
--   anyway, and by background merges, which keep the row count from growing), and counts,
--   sums and distinct participants stay exact: adding events only ever adds to them. An
--   update or delete of an event already aggregated would have to take something away
--   from a distinct count, which a state cannot do, so such a change makes a full rebuild.
--   A re-synced row with the version already aggregated changes nothing and is skipped.
--   5,000 new events at 5,000,000 take about 1 s (BenchmarkDerived).

-- Aggregates per tenant, program, event kind (the metric) and period. participants is an
-- aggregate state so that distinct participants stay exact when rows are merged across
-- programs or kinds.
-- Small granules: a query reads (and deserializes) whole granules of participants states,
-- which are large; with the default 8192 rows a monthly query read every tenant's states.
-- Each table also keeps, per program and period, a row with kind '' over every kind: the
-- participants metric (distinct participants of any kind) then merges one state per program
-- and period instead of one per kind; merging the per-kind states made a monthly
-- participants trend 5-20x slower than any other metric (BenchmarkQueries).
-- Measured (BenchmarkReadPaths in internal/analytics: 1,000,000 events, 10% written twice,
-- chDB on 2 shared cores): a monthly trend reads these aggregates in 7-11 ms, events FINAL
-- in 86-188 ms, argMax by version in 90-267 ms.
CREATE TABLE IF NOT EXISTS impactflow.agg_daily (
    tenant_id    LowCardinality(String),
    program_id   UInt64,
    kind         LowCardinality(String),
    period       Date,
    events       SimpleAggregateFunction(sum, UInt64),
    value_sum    SimpleAggregateFunction(sum, Float64),
    participants AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, kind, period, program_id)
SETTINGS index_granularity = 128, index_granularity_bytes = 1048576;

CREATE TABLE IF NOT EXISTS impactflow.agg_weekly AS impactflow.agg_daily;
CREATE TABLE IF NOT EXISTS impactflow.agg_monthly AS impactflow.agg_daily;

-- Benchmark aggregates: each tenant's monthly figures under its industry, region and size
-- band, so that a peer group is one key range. A change of a tenant's industry, region or
-- size band makes a full rebuild (the dimensions' fingerprint in derive_state).
CREATE TABLE IF NOT EXISTS impactflow.bench_industry (
    peer_group   LowCardinality(String),
    tenant_id    LowCardinality(String),
    kind         LowCardinality(String),
    period       Date,
    events       SimpleAggregateFunction(sum, UInt64),
    value_sum    SimpleAggregateFunction(sum, Float64),
    participants AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
ORDER BY (peer_group, kind, period, tenant_id)
SETTINGS index_granularity = 128, index_granularity_bytes = 1048576;

CREATE TABLE IF NOT EXISTS impactflow.bench_region AS impactflow.bench_industry;
CREATE TABLE IF NOT EXISTS impactflow.bench_size_band AS impactflow.bench_industry;

-- A deduplicated, narrow copy of the live events (events FINAL), which the aggregates are
-- computed from instead of each deduplicating events again. The queries the aggregates
-- cannot answer (a cohort filter, cohort comparisons, funnels) read it too, without FINAL,
-- in (tenant, kind, time) order: BenchmarkQueries in internal/analytics measured funnels
-- and cohorts over events FINAL at 35 and 22 ms (p50) on 1,000,000 events, mostly spent
-- deduplicating by event ID.
CREATE TABLE IF NOT EXISTS impactflow.events_live (
    tenant_id      LowCardinality(String),
    kind           LowCardinality(String),
    occurred_at    DateTime64(6, 'UTC'),
    participant_id String,
    program_id     UInt64,
    location       String,
    cohort         String,
    value          Float64
) ENGINE = MergeTree
ORDER BY (tenant_id, kind, occurred_at);

-- The version of every event in events_live, by event: what the derived tables hold, which
-- the sync compares with events to tell a new event from an update, a delete or a row
-- written again.
CREATE TABLE IF NOT EXISTS impactflow.live_keys (
    tenant_id LowCardinality(String),
    event_id  String,
    version   UInt64
) ENGINE = MergeTree
ORDER BY (tenant_id, event_id);

-- The keys of every row written to events, with when: the changes the derived tables have
-- not caught up with yet. An insert trigger, so that no writer can forget it. The sync reads
-- the rows after its mark (derive_state); a day is kept, and a mark older than half that
-- makes a full rebuild rather than trust the log.
CREATE TABLE IF NOT EXISTS impactflow.events_changes (
    tenant_id LowCardinality(String),
    event_id  String,
    seen_at   DateTime64(6, 'UTC')
) ENGINE = MergeTree
ORDER BY seen_at
TTL toDateTime(seen_at) + INTERVAL 1 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_events_changes TO impactflow.events_changes AS
SELECT tenant_id, event_id, now64(6, 'UTC') AS seen_at FROM impactflow.events;

-- Where the derived tables stand: the events_changes they include (mark), whether they
-- must be rebuilt whole (full: never built, an upgrade dropped one, or an update was
-- interrupted half-way) and the fingerprint of the dimensions they were built with.
CREATE TABLE IF NOT EXISTS impactflow.derive_state (
    id         String,
    mark       DateTime64(6, 'UTC'),
    full       UInt8,
    dimensions UInt64,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- The events an incremental update appends (their newest versions), for the statements
-- that aggregate them; emptied by every update.
CREATE TABLE IF NOT EXISTS impactflow.derive_delta (
    tenant_id      LowCardinality(String),
    kind           LowCardinality(String),
    occurred_at    DateTime64(6, 'UTC'),
    participant_id String,
    program_id     UInt64,
    location       String,
    cohort         String,
    value          Float64,
    event_id       String,
    version        UInt64
) ENGINE = Memory;
