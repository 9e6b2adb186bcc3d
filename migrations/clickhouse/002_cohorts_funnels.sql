-- Pre-aggregates for cohort comparisons and funnels, which 001 answered from the raw live
-- events (events_live): at 10,000,000 events (BenchmarkQueries in internal/analytics) a
-- cohort comparison read up to every event of the tenant and a funnel grouped every step
-- event by participant. Like 001's aggregates they are derived tables, kept up to date by
-- the sync from events_live (UpdateDerived in internal/analytics/derive.go).

-- Every (tenant, participant) of events_live with a number, for cohort_daily's bitmaps.
-- The numbers are distinct and never change once given: a full rebuild numbers everyone
-- 1..N again (dense, so bitmaps stay small), an incremental update numbers the new
-- participants after the largest number, so that appended bitmaps merge with the old ones.
CREATE TABLE IF NOT EXISTS impactflow.participant_ids (
    tenant_id      LowCardinality(String),
    participant_id String,
    n              UInt32
) ENGINE = MergeTree
ORDER BY (tenant_id, participant_id);

-- Cohort figures per tenant, dimension (program, location, cohort), value, event kind and
-- day, with rows of kind '' over every kind for the participants metric. value is the
-- program's code for the program dimension, joined when the rows are computed like the
-- bench tables' tenants (a change of a program's code makes a full rebuild). Events whose
-- program is not in programs are left out of the three dimensions, as the query over
-- events_live's join with programs did.
-- participants is a bitmap of participant numbers (participant_ids) rather than a
-- uniqExact state: merging a year of daily bitmaps (roaring OR) is much cheaper than
-- merging as many hash sets of strings.
-- Small granules, as for 001's aggregates: a query deserializes every bitmap of the granules
-- it reads, most of them other cohorts' or periods' with larger granules.
CREATE TABLE IF NOT EXISTS impactflow.cohort_daily (
    tenant_id    LowCardinality(String),
    dimension    LowCardinality(String),
    value        String,
    kind         LowCardinality(String),
    day          Date,
    events       SimpleAggregateFunction(sum, UInt64),
    value_sum    SimpleAggregateFunction(sum, Float64),
    participants AggregateFunction(groupBitmap, UInt32)
) ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, dimension, kind, value, day)
SETTINGS index_granularity = 32, index_granularity_bytes = 1048576;

-- The same figures by month (day is the month's first day): a cohort query over a long
-- period merges whole months here and only the partial months' days from cohort_daily.
CREATE TABLE IF NOT EXISTS impactflow.cohort_monthly AS impactflow.cohort_daily
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, dimension, kind, value, day)
SETTINGS index_granularity = 8, index_granularity_bytes = 1048576;

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
-- instead was measured at 250-450 ms for 100,000 participants (2.5M events) on 2 shared
-- cores.
-- A participant's rows depend on all their events, so an incremental update recomputes the
-- rows of the participants with new step events (participant_id says whose a row is), from
-- funnel_steps.
CREATE TABLE IF NOT EXISTS impactflow.funnel_entries (
    tenant_id      LowCardinality(String),
    participant_id String,
    entry_at       DateTime64(6, 'UTC'),
    previous       Int64,
    t2             Int64,
    t3             Int64,
    t4             Int64
) ENGINE = MergeTree
ORDER BY (tenant_id, entry_at);

-- The live events of the default funnel's steps by participant, for recomputing some
-- participants' funnel_entries: reading them from events_live (in time order) scanned
-- every step event, 0.6-2.7 s of an incremental update's 1-3 s at 5,000,000 events
-- (BenchmarkDerived).
CREATE TABLE IF NOT EXISTS impactflow.funnel_steps (
    tenant_id      LowCardinality(String),
    participant_id String,
    kind           LowCardinality(String),
    occurred_at    DateTime64(6, 'UTC')
) ENGINE = MergeTree
ORDER BY (tenant_id, participant_id, kind, occurred_at);
