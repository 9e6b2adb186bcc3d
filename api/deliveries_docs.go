package api

// The delivery routes' documentation and schemas.
var (
	deliveryJobResponses = map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 409: "Error", 503: "Error"}

	docPutPartner = operation{Summary: "Set the tenant's credentials for a partner (benevity | goodera | workday); stored encrypted, never returned", Tag: "deliveries",
		Body: "PartnerCredentials", Responses: map[int]string{200: "PartnerConfigured", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
	docCreateDelivery = operation{Summary: "Deliver the tenant's impact data for a period to a partner; starts a delivery job", Tag: "deliveries",
		Body: "CreateDeliveryRequest", IdempotencyKey: true, Responses: deliveryJobResponses}
	docListDeliveries = operation{Summary: "The delivery log, newest first", Tag: "deliveries",
		Query: []param{
			{"partner", "string", "benevity | goodera | workday"},
			{"status", "string", "pending | in_progress | delivered | failed"},
			{"from", "string", "created at or after (RFC 3339 or YYYY-MM-DD)"},
			{"to", "string", "created before (RFC 3339 or YYYY-MM-DD)"},
			{"page_size", "integer", "1-100, default 20"},
			{"cursor", "string", "next_cursor of the previous page"},
		},
		Responses: map[int]string{200: "DeliveryPage", 400: "Error", 401: "Error", 503: "Error"}}
	docGetDelivery = operation{Summary: "A delivery, its workflow runs and the send attempts read from the workflow history", Tag: "deliveries",
		Responses: map[int]string{200: "DeliveryDetail", 401: "Error", 404: "Error", 503: "Error"}}
	docReplayDelivery = operation{Summary: "Replay a failed delivery by resetting its workflow (a new run linked to the old); a delivered one is 409 unless force=true", Tag: "deliveries",
		Query:     []param{{"force", "boolean", "replay a delivered delivery too (the partner's idempotency key keeps it one delivery)"}},
		Responses: map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 404: "Error", 409: "Error", 503: "Error"}}
	docBulkReplay = operation{Summary: "Replay up to 100 deliveries as a batch job with bounded concurrency; the job's result has each ID's outcome", Tag: "deliveries",
		Body: "BulkReplayRequest", IdempotencyKey: true, Responses: deliveryJobResponses}
	docRetryAllFailed = operation{Summary: "Replay every failed delivery of the tenant (optionally one partner, a creation window) as a batch job", Tag: "deliveries",
		Body: "RetryAllFailedRequest", IdempotencyKey: true, Responses: deliveryJobResponses}
	docDeliveryStats = operation{Summary: "Counts by partner and status, success rate, median and p95 attempts and time to deliver (recomputed at most every 5 s)", Tag: "deliveries",
		Query:     []param{{"window", "string", "how far back, by creation time (default 24h, at most 2160h)"}},
		Responses: map[int]string{200: "DeliveryStats", 400: "Error", 401: "Error", 503: "Error"}}
)

func deliverySchemas() obj {
	partner := obj{"type": "string", "enum": []string{"benevity", "goodera", "workday"}}
	date := obj{"type": "string", "format": "date"}
	delivery := props(nil, obj{
		"id": str, "tenant_id": str, "partner": partner, "period_start": stamp, "period_end": stamp,
		"status":       obj{"type": "string", "enum": []string{"pending", "in_progress", "delivered", "failed"}},
		"payload_hash": str, "receipt_id": str, "attempts": integer, "last_error": str, "last_http_status": integer,
		"created_at": stamp, "updated_at": stamp, "started_at": nullable(stamp), "finished_at": nullable(stamp),
	})
	pct := props(nil, obj{"p50": nullable(number), "p95": nullable(number)})
	return obj{
		"PartnerCredentials": props(nil, obj{
			"account_id": str, "signing_secret": str, "client_id": str, "client_secret": str,
			"protocol": obj{"type": "string", "enum": []string{"soap", "rest"}}, "workday_tenant": str, "username": str, "password": str,
		}),
		"PartnerConfigured":     props(nil, obj{"partner": partner, "configured": boolean, "key_id": str, "fields_set": obj{"type": "array", "items": str}}),
		"CreateDeliveryRequest": props([]string{"partner", "period_start", "period_end"}, obj{"partner": partner, "period_start": date, "period_end": date}),
		"Delivery":              delivery,
		"DeliveryPage":          props(nil, obj{"deliveries": obj{"type": "array", "items": ref("Delivery")}, "next_cursor": str}),
		"DeliveryDetail": obj{"allOf": []any{ref("Delivery"), props(nil, obj{
			"runs": obj{"type": "array", "items": props(nil, obj{"run_id": str, "status": str, "started_at": stamp, "closed_at": nullable(stamp)})},
			"attempt_log": obj{"type": "array", "items": props(nil, obj{"run_id": str, "attempt": integer, "time": stamp, "duration_ms": integer,
				"http_status": integer, "outcome": str, "error": str, "error_type": str})},
			"attempt_log_note": str,
		})}},
		"BulkReplayRequest":     props([]string{"ids"}, obj{"ids": obj{"type": "array", "items": str, "maxItems": maxBulkReplay}, "force": boolean}),
		"RetryAllFailedRequest": props(nil, obj{"partner": partner, "from": stamp, "to": stamp}),
		"DeliveryStats": props(nil, obj{"since": stamp, "total": integer,
			"by_partner":   obj{"type": "object", "additionalProperties": obj{"type": "object", "additionalProperties": integer}},
			"success_rate": nullable(number), "attempts": pct, "time_to_deliver_seconds": pct}),
	}
}
