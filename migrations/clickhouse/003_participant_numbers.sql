-- Cheaper refreshes: stable participant numbers, bitmaps of them in the trend and peer
-- aggregates, and the weekly, monthly and peer aggregates merged from the daily ones instead
-- of each aggregating the 5,000,000 live events again. BenchmarkRefresh in
-- internal/analytics measures each view's refresh.
--
-- A store applies each file once (DB.Migrate records it in impactflow.schema_migrations),
-- but a store from before that record, or two processes migrating at once, runs 001, 002
-- and this file again, and 001 and 002 are never edited; so this file must leave the same
-- state whether it runs after a fresh 001+002 or after itself:
-- - Views whose target keeps its columns (mv_cohort_daily, mv_funnel_walk; mv_events_live,
--   whose target only gains pn with ADD COLUMN IF NOT EXISTS) are changed in place with
--   ALTER ... MODIFY QUERY / MODIFY REFRESH, which set the same definition again when the
--   file runs again and do not refresh. (The engine itself refreshes every view at start,
--   as it did before this file; the start that first applies it refreshes them in order:
--   DB.Migrate.)
-- - Aggregates whose participants change type (uniqExact of strings to groupBitmap of
--   numbers) get new tables and views (trend_*, peer_*). 001's views into the old tables
--   (mv_agg_*, mv_peers_*) are replaced by plain views of the same name, which compute
--   nothing: dropping them would let 001 create them again when it runs again, and
--   creating a refreshable view refreshes it at once (over every live event). The old tables are kept
--   (001 would create them again too) but emptied.
-- The views that write millions of rows (events_live) or many states insert with two
-- threads (max_insert_threads in their query's SETTINGS): by default an INSERT ... SELECT
-- sorts, compresses and writes the target's parts in one thread; BenchmarkRefresh measured
-- events_live's refresh at 2.3 s with one and 1.7 s with two (5,000,000 events, 2 cores).

-- Participant numbers: each (tenant, participant) gets a number once, the first time a
-- refresh sees it, and keeps it: new participants are appended after the largest number.
-- One sequence for all tenants, so a number alone names a tenant's participant.
-- Bitmaps of numbers are exact distinct counts only when every bitmap merged together uses
-- the same numbering. Numbers assigned afresh at each refresh (as 002's cohort_daily did)
-- would differ between tables refreshed at different moments (cohort_monthly merged with
-- cohort_daily, the weekly trends merged from the daily ones); stable numbers never do.
-- The numbering is an APPEND refreshable view, the first thing the sync refreshes: the
-- engine runs one refresh of a view at a time, so two syncs refreshing at once cannot give
-- one number twice. It reads the raw events (deleted ones too: a spare number costs
-- nothing) because events_live is built from these numbers.
CREATE TABLE IF NOT EXISTS impactflow.participant_numbers (
    tenant_id      LowCardinality(String),
    participant_id String,
    pn             UInt32
) ENGINE = MergeTree
ORDER BY (tenant_id, participant_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_participant_numbers
REFRESH EVERY 1 DAY APPEND TO impactflow.participant_numbers AS
SELECT tenant_id, participant_id,
       toUInt32((SELECT max(pn) FROM impactflow.participant_numbers) + rowNumberInAllBlocks() + 1) AS pn
FROM (
    SELECT DISTINCT tenant_id, participant_id FROM impactflow.events
    WHERE (tenant_id, participant_id) NOT IN (SELECT tenant_id, participant_id FROM impactflow.participant_numbers)
    ORDER BY tenant_id, participant_id
);

-- The live events carry their participant's number, so that no aggregate joins the
-- numbering again (cohort_daily's own numbering join was most of its refresh). An INNER
-- join: an event written after the numbering's refresh, of a participant it has not
-- numbered, waits for the next refresh, as if it had been written a moment later, rather
-- than being counted as participant 0.
ALTER TABLE impactflow.events_live ADD COLUMN IF NOT EXISTS pn UInt32;

-- The dependency first, so that no refresh runs the new query before the numbering's.
ALTER TABLE impactflow.mv_events_live MODIFY REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_participant_numbers;

ALTER TABLE impactflow.mv_events_live MODIFY QUERY
SELECT e.tenant_id AS tenant_id, e.kind AS kind, e.occurred_at AS occurred_at, e.participant_id AS participant_id,
       n.pn AS pn, e.program_id AS program_id, e.location AS location, e.cohort AS cohort, e.value AS value
FROM impactflow.events AS e FINAL
INNER JOIN impactflow.participant_numbers AS n ON n.tenant_id = e.tenant_id AND n.participant_id = e.participant_id
SETTINGS max_insert_threads = 2;

-- Trend aggregates, as 001's agg_daily, agg_weekly and agg_monthly, with participants as a
-- bitmap of participant numbers.
CREATE TABLE IF NOT EXISTS impactflow.trend_daily (
    tenant_id    LowCardinality(String),
    program_id   UInt64,
    kind         LowCardinality(String),
    period       Date,
    events       UInt64,
    value_sum    Float64,
    participants AggregateFunction(groupBitmap, UInt32)
) ENGINE = MergeTree
ORDER BY (tenant_id, kind, period, program_id)
SETTINGS index_granularity = 128, index_granularity_bytes = 1048576;

CREATE TABLE IF NOT EXISTS impactflow.trend_weekly AS impactflow.trend_daily;
CREATE TABLE IF NOT EXISTS impactflow.trend_monthly AS impactflow.trend_daily;

-- Benchmark aggregates, as 001's bench_* tables, with participants as a bitmap.
CREATE TABLE IF NOT EXISTS impactflow.peer_industry (
    peer_group   LowCardinality(String),
    tenant_id    LowCardinality(String),
    kind         LowCardinality(String),
    period       Date,
    events       UInt64,
    value_sum    Float64,
    participants AggregateFunction(groupBitmap, UInt32)
) ENGINE = MergeTree
ORDER BY (peer_group, kind, period, tenant_id)
SETTINGS index_granularity = 128, index_granularity_bytes = 1048576;

CREATE TABLE IF NOT EXISTS impactflow.peer_region AS impactflow.peer_industry;
CREATE TABLE IF NOT EXISTS impactflow.peer_size_band AS impactflow.peer_industry;

-- The daily trends from the live events, with the rows of kind '' (every kind) as in 001.
-- Like every view reading the live events' numbers, it depends on mv_events_live: on the
-- start that adds pn, the live events hold number 0 for every participant until they are
-- refreshed, and the refreshes the engine runs at creation and at start must wait for them.
CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_trend_daily
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_events_live TO impactflow.trend_daily AS
SELECT tenant_id, program_id, kind, toDate(occurred_at) AS period,
       count() AS events, sum(value) AS value_sum, groupBitmapState(pn) AS participants
FROM impactflow.events_live
GROUP BY GROUPING SETS ((tenant_id, program_id, kind, period), (tenant_id, program_id, period))
SETTINGS max_insert_threads = 2;

-- Weeks and months merge the days' rows (kind '' rows included, so they stay the figures
-- over every kind): a few hundred thousand rows and bitmaps rather than every live event.
CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_trend_weekly
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_trend_daily TO impactflow.trend_weekly AS
SELECT tenant_id, program_id, kind, toMonday(period) AS period,
       sum(events) AS events, sum(value_sum) AS value_sum, groupBitmapMergeState(participants) AS participants
FROM impactflow.trend_daily
GROUP BY tenant_id, program_id, kind, period;

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_trend_monthly
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_trend_daily TO impactflow.trend_monthly AS
SELECT tenant_id, program_id, kind, toStartOfMonth(period) AS period,
       sum(events) AS events, sum(value_sum) AS value_sum, groupBitmapMergeState(participants) AS participants
FROM impactflow.trend_daily
GROUP BY tenant_id, program_id, kind, period;

-- A tenant's monthly figures under its peer groups: its monthly trends merged over its
-- programs (per kind, and over every kind from the rows of kind '').
CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_peer_industry
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_trend_monthly TO impactflow.peer_industry AS
SELECT t.industry AS peer_group, m.tenant_id AS tenant_id, m.kind AS kind, m.period AS period,
       sum(m.events) AS events, sum(m.value_sum) AS value_sum, groupBitmapMergeState(m.participants) AS participants
FROM impactflow.trend_monthly AS m
INNER JOIN (SELECT tenant_id, industry FROM impactflow.tenants FINAL) AS t ON t.tenant_id = m.tenant_id
GROUP BY peer_group, tenant_id, kind, period;

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_peer_region
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_trend_monthly TO impactflow.peer_region AS
SELECT t.region AS peer_group, m.tenant_id AS tenant_id, m.kind AS kind, m.period AS period,
       sum(m.events) AS events, sum(m.value_sum) AS value_sum, groupBitmapMergeState(m.participants) AS participants
FROM impactflow.trend_monthly AS m
INNER JOIN (SELECT tenant_id, region FROM impactflow.tenants FINAL) AS t ON t.tenant_id = m.tenant_id
GROUP BY peer_group, tenant_id, kind, period;

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_peer_size_band
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_trend_monthly TO impactflow.peer_size_band AS
SELECT t.size_band AS peer_group, m.tenant_id AS tenant_id, m.kind AS kind, m.period AS period,
       sum(m.events) AS events, sum(m.value_sum) AS value_sum, groupBitmapMergeState(m.participants) AS participants
FROM impactflow.trend_monthly AS m
INNER JOIN (SELECT tenant_id, size_band FROM impactflow.tenants FINAL) AS t ON t.tenant_id = m.tenant_id
GROUP BY peer_group, tenant_id, kind, period;

-- 001's views into the old tables, replaced by views that compute nothing (see the top).
CREATE OR REPLACE VIEW impactflow.mv_agg_daily AS SELECT 'replaced by mv_trend_daily (003)' AS note;
CREATE OR REPLACE VIEW impactflow.mv_agg_weekly AS SELECT 'replaced by mv_trend_weekly (003)' AS note;
CREATE OR REPLACE VIEW impactflow.mv_agg_monthly AS SELECT 'replaced by mv_trend_monthly (003)' AS note;
CREATE OR REPLACE VIEW impactflow.mv_peers_industry AS SELECT 'replaced by mv_peer_industry (003)' AS note;
CREATE OR REPLACE VIEW impactflow.mv_peers_region AS SELECT 'replaced by mv_peer_region (003)' AS note;
CREATE OR REPLACE VIEW impactflow.mv_peers_size_band AS SELECT 'replaced by mv_peer_size_band (003)' AS note;

TRUNCATE TABLE IF EXISTS impactflow.agg_daily;
TRUNCATE TABLE IF EXISTS impactflow.agg_weekly;
TRUNCATE TABLE IF EXISTS impactflow.agg_monthly;
TRUNCATE TABLE IF EXISTS impactflow.bench_industry;
TRUNCATE TABLE IF EXISTS impactflow.bench_region;
TRUNCATE TABLE IF EXISTS impactflow.bench_size_band;

-- Daily cohort figures as in 002. The program and 'all' dimensions are merged from the daily
-- trends (per program, kind and day, and the rows of kind '' over every kind), which hold
-- the same events, sums and participant numbers: only the location and cohort dimensions
-- still aggregate the live events, and none joins a numbering of its own. Programs with the
-- same code merge into one row, as they did; the 'all' rows keep events of programs that
-- programs does not know. Participants stay kept for kind '' only (an empty bitmap
-- otherwise), as 002 keeps them. So it refreshes after the daily trends.
ALTER TABLE impactflow.mv_cohort_daily MODIFY REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_trend_daily;

ALTER TABLE impactflow.mv_cohort_daily MODIFY QUERY
SELECT tenant_id, dimension, value, kind, day, events, value_sum, participants
FROM (
    SELECT e.tenant_id AS tenant_id,
           if(grouping(e.location) = 0, 'location', 'cohort') AS dimension,
           if(grouping(e.location) = 0, e.location, e.cohort) AS value,
           e.kind AS kind, toDate(e.occurred_at) AS day,
           count() AS events, sum(e.value) AS value_sum, groupBitmapStateIf(toUInt32(0), 0) AS participants
    FROM impactflow.events_live AS e
    INNER JOIN (SELECT tenant_id, program_id FROM impactflow.programs FINAL) AS p
        ON p.tenant_id = e.tenant_id AND p.program_id = e.program_id
    GROUP BY GROUPING SETS ((e.tenant_id, e.location, e.kind, day), (e.tenant_id, e.cohort, e.kind, day))
    UNION ALL
    SELECT e.tenant_id AS tenant_id,
           if(grouping(e.location) = 0, 'location', 'cohort') AS dimension,
           if(grouping(e.location) = 0, e.location, e.cohort) AS value,
           '' AS kind, toDate(e.occurred_at) AS day,
           count() AS events, sum(e.value) AS value_sum, groupBitmapState(e.pn) AS participants
    FROM impactflow.events_live AS e
    INNER JOIN (SELECT tenant_id, program_id FROM impactflow.programs FINAL) AS p
        ON p.tenant_id = e.tenant_id AND p.program_id = e.program_id
    GROUP BY GROUPING SETS ((e.tenant_id, e.location, day), (e.tenant_id, e.cohort, day))
    UNION ALL
    SELECT d.tenant_id AS tenant_id, 'program' AS dimension, p.code AS value, d.kind AS kind, d.period AS day,
           sum(d.events) AS events, sum(d.value_sum) AS value_sum, groupBitmapMergeStateIf(d.participants, d.kind = '') AS participants
    FROM impactflow.trend_daily AS d
    INNER JOIN (SELECT tenant_id, program_id, code FROM impactflow.programs FINAL) AS p
        ON p.tenant_id = d.tenant_id AND p.program_id = d.program_id
    GROUP BY d.tenant_id, p.code, d.kind, d.period
    UNION ALL
    SELECT d.tenant_id AS tenant_id, 'all' AS dimension, '' AS value, '' AS kind, d.period AS day,
           sum(d.events) AS events, sum(d.value_sum) AS value_sum, groupBitmapMergeState(d.participants) AS participants
    FROM (SELECT tenant_id, period, events, value_sum, participants FROM impactflow.trend_daily WHERE kind = '') AS d
    GROUP BY d.tenant_id, d.period
)
SETTINGS max_insert_threads = 2;

-- Funnel entries as in 002, each participant's events matched by number instead of by
-- tenant and participant ID: numbers are unique across tenants, so the three ASOF joins hash
-- one UInt32 rather than a string and the tenant. The select alone took 1.7 s with the
-- tenant and number as keys, 1.1 s with the number (5,000,000 events; the same rows).
ALTER TABLE impactflow.mv_funnel_walk MODIFY REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_events_live;

ALTER TABLE impactflow.mv_funnel_walk MODIFY QUERY
SELECT tenant_id, fromUnixTimestamp64Micro(entry, 'UTC') AS entry_at, previous, t2, t3, t4
FROM (
    SELECT w3.tenant_id AS tenant_id, w3.entry AS entry, w3.previous AS previous, w3.t2 AS t2, w3.t3 AS t3,
           if(s4.hit = 1, s4.t, toInt64(9223372036854775807)) AS t4
    FROM (
        SELECT w2.tenant_id AS tenant_id, w2.pn AS pn, w2.entry AS entry, w2.previous AS previous,
               w2.t2 AS t2, if(s3.hit = 1, s3.t, toInt64(9223372036854775807)) AS t3
        FROM (
            SELECT w1.tenant_id AS tenant_id, w1.pn AS pn, w1.entry AS entry, w1.previous AS previous,
                   if(s2.hit = 1, s2.t, toInt64(9223372036854775807)) AS t2
            FROM (
                SELECT tenant_id, pn, toUnixTimestamp64Micro(occurred_at) AS entry,
                       lagInFrame(toUnixTimestamp64Micro(occurred_at), 1, toInt64(-9223372036854775807))
                           OVER (PARTITION BY tenant_id, pn ORDER BY occurred_at
                                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
                FROM impactflow.events_live
                WHERE kind = 'signup'
            ) AS w1
            ASOF LEFT JOIN (
                SELECT tenant_id, pn, toUnixTimestamp64Micro(occurred_at) AS t, toUInt8(1) AS hit
                FROM impactflow.events_live
                WHERE kind = 'session_started'
            ) AS s2 ON s2.pn = w1.pn AND s2.t >= w1.entry
        ) AS w2
        ASOF LEFT JOIN (
            SELECT tenant_id, pn, toUnixTimestamp64Micro(occurred_at) AS t, toUInt8(1) AS hit
            FROM impactflow.events_live
            WHERE kind = 'session_completed'
        ) AS s3 ON s3.pn = w2.pn AND s3.t >= w2.t2
    ) AS w3
    ASOF LEFT JOIN (
        SELECT tenant_id, pn, toUnixTimestamp64Micro(occurred_at) AS t, toUInt8(1) AS hit
        FROM impactflow.events_live
        WHERE kind = 'outcome_measured'
    ) AS s4 ON s4.pn = w3.pn AND s4.t >= w3.t3
)
SETTINGS max_insert_threads = 2;
