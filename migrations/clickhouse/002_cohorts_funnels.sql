-- Pre-aggregates for cohort comparisons and funnels, which 001 answered from the raw live
-- events (events_live): at 10,000,000 events (BenchmarkQueries in internal/analytics) a
-- cohort comparison read up to every event of the tenant and a funnel grouped every step
-- event by participant. Like the views of 001 they are refreshable views over events_live,
-- refreshed by the sync after it (RefreshViews): events_live is already deduplicated
-- (events FINAL: the newest version of each event, deletes dropped), so a refresh rebuilds
-- them exactly from what the other views see, and updates and deletes need no care here. An
-- insert trigger on events would see every re-synced or updated row as a new one.

-- Cohort figures per tenant, dimension (program, location, cohort), value, event kind and
-- day, with rows of kind '' over every kind for the participants metric. value is the
-- program's code for the program dimension, joined at refresh time like the bench views'
-- tenants (the sync writes the dimensions before it refreshes). Events whose program is not
-- in programs are left out of the three dimensions, as the query over events_live's join
-- with programs did.
-- participants is a bitmap of participant numbers rather than a uniqExact state: merging a
-- year of daily bitmaps (roaring OR) is much cheaper than merging as many hash sets of
-- strings, and it stays exact because the numbers are dense and distinct: each refresh
-- numbers every (tenant, participant) of events_live 1..N in one pass, and the numbers are
-- only ever counted, never compared across refreshes.
-- Small granules, as for 001's aggregates: a query deserializes every bitmap of the granules
-- it reads, most of them other cohorts' or periods' with larger granules.
CREATE TABLE IF NOT EXISTS impactflow.cohort_daily (
    tenant_id    LowCardinality(String),
    dimension    LowCardinality(String),
    value        String,
    kind         LowCardinality(String),
    day          Date,
    events       UInt64,
    value_sum    Float64,
    participants AggregateFunction(groupBitmap, UInt32)
) ENGINE = MergeTree
ORDER BY (tenant_id, dimension, kind, value, day)
SETTINGS index_granularity = 32, index_granularity_bytes = 1048576;

-- Two passes of GROUPING SETS: the figures by kind, without participants (no metric counts
-- one kind's participants, and Cohorts reads events_live for one that would), then the rows
-- of kind '' with the participants, which alone need the numbering join; one pass of all
-- seven sets with bitmaps took 33 s to refresh 10,000,000 events. grouping(c) is 0 in the
-- sets that group by c (the SQL standard's meaning, ClickHouse's default). The last set,
-- dimension 'all' (value ''), holds every participant of the tenant, whether or not
-- programs knows their event's program: Benchmarks counts a tenant's participants from its
-- monthly rows.
CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_cohort_daily
REFRESH EVERY 1 DAY TO impactflow.cohort_daily AS
SELECT tenant_id, dimension, value, kind, day, events, value_sum, participants
FROM (
    SELECT e.tenant_id AS tenant_id,
           multiIf(grouping(p.code) = 0, 'program', grouping(e.location) = 0, 'location', 'cohort') AS dimension,
           multiIf(grouping(p.code) = 0, p.code, grouping(e.location) = 0, e.location, e.cohort) AS value,
           e.kind AS kind, toDate(e.occurred_at) AS day, p.known AS known,
           count() AS events, sum(e.value) AS value_sum, groupBitmapStateIf(toUInt32(0), 0) AS participants
    FROM impactflow.events_live AS e
    LEFT JOIN (SELECT tenant_id, program_id, code, toUInt8(1) AS known FROM impactflow.programs FINAL) AS p
        ON p.tenant_id = e.tenant_id AND p.program_id = e.program_id
    GROUP BY GROUPING SETS ((e.tenant_id, known, p.code, e.kind, day), (e.tenant_id, known, e.location, e.kind, day),
                            (e.tenant_id, known, e.cohort, e.kind, day))
    UNION ALL
    SELECT e.tenant_id AS tenant_id,
           multiIf(grouping(p.code) = 0, 'program', grouping(e.location) = 0, 'location', grouping(e.cohort) = 0, 'cohort', 'all') AS dimension,
           multiIf(grouping(p.code) = 0, p.code, grouping(e.location) = 0, e.location, grouping(e.cohort) = 0, e.cohort, '') AS value,
           '' AS kind, toDate(e.occurred_at) AS day, p.known AS known,
           count() AS events, sum(e.value) AS value_sum, groupBitmapState(ids.n) AS participants
    FROM impactflow.events_live AS e
    LEFT JOIN (SELECT tenant_id, program_id, code, toUInt8(1) AS known FROM impactflow.programs FINAL) AS p
        ON p.tenant_id = e.tenant_id AND p.program_id = e.program_id
    INNER JOIN (SELECT tenant_id, participant_id, toUInt32(rowNumberInAllBlocks() + 1) AS n
                FROM (SELECT DISTINCT tenant_id, participant_id FROM impactflow.events_live ORDER BY tenant_id, participant_id)) AS ids
        ON ids.tenant_id = e.tenant_id AND ids.participant_id = e.participant_id
    GROUP BY GROUPING SETS ((e.tenant_id, known, p.code, day), (e.tenant_id, known, e.location, day),
                            (e.tenant_id, known, e.cohort, day), (e.tenant_id, day))
)
WHERE dimension = 'all' OR known = 1;

-- The same figures by month (day is the month's first day): a cohort query over a long
-- period merges whole months here and only the partial months' days from cohort_daily.
-- Refreshed from cohort_daily, after it; its columns are cohort_daily's.
CREATE TABLE IF NOT EXISTS impactflow.cohort_monthly AS impactflow.cohort_daily
ENGINE = MergeTree
ORDER BY (tenant_id, dimension, kind, value, day)
SETTINGS index_granularity = 8, index_granularity_bytes = 1048576;

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_cohort_monthly
REFRESH EVERY 1 DAY DEPENDS ON impactflow.mv_cohort_daily TO impactflow.cohort_monthly AS
SELECT tenant_id, dimension, value, kind, toStartOfMonth(day) AS day,
       sum(events) AS events, sum(value_sum) AS value_sum, groupBitmapMergeState(participants) AS participants
FROM impactflow.cohort_daily
GROUP BY tenant_id, dimension, value, kind, day;

-- The default funnel (signup, session_started, session_completed, outcome_measured, as
-- asked by the API without steps), walked ahead of time from every signup: one row per
-- signup event with the times of the later steps as a funnel reaches them from that entry,
-- each step's first event at or after the previous step's (max Int64 once a step is never
-- reached). The window only compares those times with the entry's, so a funnel of the
-- default steps (or a prefix of them) over any period and window reads the signups of the
-- period that are their participant's first in it: those whose participant's previous
-- signup (previous, in microseconds; -(2^63 - 1) for the first) is before the period. Other
-- step lists read events_live (funnelFromEvents): precomputing every order of the six kinds
-- is not worth it. Walking participants' sorted times with array lambdas at query time
-- instead was measured at 250-450 ms for 100,000 participants (2.5M events) on 2 shared cores.
CREATE TABLE IF NOT EXISTS impactflow.funnel_entries (
    tenant_id   LowCardinality(String),
    entry_at    DateTime64(6, 'UTC'),
    previous    Int64,
    t2          Int64,
    t3          Int64,
    t4          Int64
) ENGINE = MergeTree
ORDER BY (tenant_id, entry_at);

-- Each step is an ASOF join: for every entry, the participant's first event of the next kind
-- at or after the previous step's time, found by binary search in the join's sorted
-- per-participant lists, so the walk costs O(n log n) whatever the number of events per
-- participant; previous is the window function's preceding signup. The first version of
-- this view (mv_funnel_entries) walked per-participant arrays from every signup, which is
-- quadratic in a participant's events: over the benchmark's 5,000,000 events of 880
-- participants it took 110.7 s to refresh, this one 3.1 s, with the same rows (the same
-- count and sum of row hashes).
DROP VIEW IF EXISTS impactflow.mv_funnel_entries;

CREATE MATERIALIZED VIEW IF NOT EXISTS impactflow.mv_funnel_walk
REFRESH EVERY 1 DAY TO impactflow.funnel_entries AS
SELECT tenant_id, fromUnixTimestamp64Micro(entry, 'UTC') AS entry_at, previous, t2, t3, t4
FROM (
    SELECT w3.tenant_id AS tenant_id, w3.entry AS entry, w3.previous AS previous, w3.t2 AS t2, w3.t3 AS t3,
           if(s4.hit = 1, s4.t, toInt64(9223372036854775807)) AS t4
    FROM (
        SELECT w2.tenant_id AS tenant_id, w2.participant_id AS participant_id, w2.entry AS entry, w2.previous AS previous,
               w2.t2 AS t2, if(s3.hit = 1, s3.t, toInt64(9223372036854775807)) AS t3
        FROM (
            SELECT w1.tenant_id AS tenant_id, w1.participant_id AS participant_id, w1.entry AS entry, w1.previous AS previous,
                   if(s2.hit = 1, s2.t, toInt64(9223372036854775807)) AS t2
            FROM (
                SELECT tenant_id, participant_id, toUnixTimestamp64Micro(occurred_at) AS entry,
                       lagInFrame(toUnixTimestamp64Micro(occurred_at), 1, toInt64(-9223372036854775807))
                           OVER (PARTITION BY tenant_id, participant_id ORDER BY occurred_at
                                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
                FROM impactflow.events_live
                WHERE kind = 'signup'
            ) AS w1
            ASOF LEFT JOIN (
                SELECT tenant_id, participant_id, toUnixTimestamp64Micro(occurred_at) AS t, toUInt8(1) AS hit
                FROM impactflow.events_live
                WHERE kind = 'session_started'
            ) AS s2 ON s2.tenant_id = w1.tenant_id AND s2.participant_id = w1.participant_id AND s2.t >= w1.entry
        ) AS w2
        ASOF LEFT JOIN (
            SELECT tenant_id, participant_id, toUnixTimestamp64Micro(occurred_at) AS t, toUInt8(1) AS hit
            FROM impactflow.events_live
            WHERE kind = 'session_completed'
        ) AS s3 ON s3.tenant_id = w2.tenant_id AND s3.participant_id = w2.participant_id AND s3.t >= w2.t2
    ) AS w3
    ASOF LEFT JOIN (
        SELECT tenant_id, participant_id, toUnixTimestamp64Micro(occurred_at) AS t, toUInt8(1) AS hit
        FROM impactflow.events_live
        WHERE kind = 'outcome_measured'
    ) AS s4 ON s4.tenant_id = w3.tenant_id AND s4.participant_id = w3.participant_id AND s4.t >= w3.t3
);
