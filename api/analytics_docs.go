package api

import (
	"strings"

	"github.com/impactflow/impactflow/internal/analytics"
)

var (
	analyticsQueryResponses = map[int]string{400: "Error", 401: "Error", 429: "Error", 503: "Error"}
	periodParams            = []param{
		{"from", "string", "first day, YYYY-MM-DD (default: 90 days before to)"},
		{"to", "string", "day after the last, YYYY-MM-DD (default: tomorrow, UTC)"},
	}
	metricList = strings.Join(analytics.MetricNames(), " | ")

	docStartSync = operation{Summary: "Run the Postgres→ClickHouse sync now (mode incremental) or backfill the caller's tenant (mode backfill, optional from/to on occurred_at); starts a clickhouse_sync job",
		Tag: "analytics", Body: "SyncRequest", IdempotencyKey: true, Responses: map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
	docSyncStatus = operation{Summary: "The sync's watermark, lag behind Postgres (seconds) and last run's counts", Tag: "analytics",
		Responses: map[int]string{200: "SyncStatus", 401: "Error", 503: "Error"}}
	docTrends = operation{Summary: "A metric over a period by day, week or month, with the change against the previous period of the same length (cached 1 h)", Tag: "analytics",
		Query: append([]param{
			{"metric", "string", metricList},
			{"granularity", "string", "day (at most 366 points) | week (260) | month (120); weeks and months are widened to whole buckets"},
			{"program", "string", "a program code of the tenant"},
			{"cohort", "string", "the events' cohort attribute"},
		}, periodParams...), Responses: withOK("Trend", analyticsQueryResponses)}
	docCohorts = operation{Summary: "Compare up to 10 cohorts on chosen metrics (cached 2 h)", Tag: "analytics",
		Query: append([]param{
			{"dimension", "string", "program (default) | location | cohort"},
			{"cohorts", "string", "1-10 comma-separated program codes, locations or cohort names"},
			{"metrics", "string", "comma-separated: " + metricList},
		}, periodParams...), Responses: withOK("Cohorts", analyticsQueryResponses)}
	docFunnels = operation{Summary: "Participants through ordered steps within a window, with conversion and drop-off per step (cached 3 h)", Tag: "analytics",
		Query: append([]param{
			{"steps", "string", "2-8 distinct event kinds in order (default signup,session_started,session_completed,outcome_measured)"},
			{"window_days", "integer", "days from a participant's first step in which later steps count (default 30)"},
		}, periodParams...), Responses: withOK("Funnel", analyticsQueryResponses)}
	docBenchmarks = operation{Summary: "The tenant's percentile and its peers' median by industry, region and size band, only over peer groups of at least 5 other tenants (cached 6 h)", Tag: "analytics",
		Query: append([]param{{"metric", "string", metricList}}, periodParams...), Responses: withOK("Benchmarks", analyticsQueryResponses)}
)

func withOK(schema string, rest map[int]string) map[int]string {
	out := map[int]string{200: schema}
	for k, v := range rest {
		out[k] = v
	}
	return out
}

func analyticsSchemas() obj {
	point := props(nil, obj{"period": str, "value": number})
	return obj{
		"SyncRequest": props(nil, obj{"mode": obj{"type": "string", "enum": []string{"incremental", "backfill"}}, "from": str, "to": str}),
		"SyncStatus": props(nil, obj{
			"watermark":   nullable(props(nil, obj{"updated_at": stamp, "tenant_id": str, "event_id": str})),
			"lag_seconds": nullable(number),
			"last_run": nullable(props(nil, obj{"run_id": str, "mode": str, "tenant_id": str, "started_at": stamp, "finished_at": stamp,
				"rows": integer, "upserts": integer, "deletes": integer})),
		}),
		"Trend": props(nil, obj{"metric": str, "granularity": str, "from": str, "to": str, "points": obj{"type": "array", "items": point},
			"total": number, "previous_total": number, "change_pct": nullable(number)}),
		"Cohorts": props(nil, obj{"dimension": str, "from": str, "to": str, "cohorts": obj{"type": "array",
			"items": props(nil, obj{"cohort": str, "metrics": obj{"type": "object", "additionalProperties": number}})}}),
		"Funnel": props(nil, obj{"from": str, "to": str, "window_days": integer, "steps": obj{"type": "array",
			"items": props(nil, obj{"step": str, "participants": integer, "conversion_pct": number, "drop_off": integer, "overall_pct": number})}}),
		"Benchmarks": props(nil, obj{"metric": str, "from": str, "to": str, "min_peers": integer, "benchmarks": obj{"type": "array",
			"items": props(nil, obj{"dimension": str, "peer_group": str, "available": boolean, "reason": str, "peers": integer,
				"value": number, "peer_median": number, "percentile": number})}}),
	}
}
