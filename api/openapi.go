package api

import (
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// operation is what the OpenAPI document says of a route.
type operation struct {
	Summary   string
	Tag       string
	Query     []param
	Body      string // schema name of the JSON body; "upload" for an import file
	Responses map[int]string
	Headers   []param // request headers the route reads
	// IdempotencyKey says the route reads an Idempotency-Key header (uploads always do).
	IdempotencyKey bool
}

type param struct {
	Name, Type, Description string
}

// Every route's documentation. A route without a summary or responses fails the test.
var (
	jobResponses = map[int]string{200: "Job", 401: "Error", 404: "Error", 503: "Error"}

	docHealth       = operation{Summary: "Liveness and version", Tag: "health", Responses: map[int]string{200: "Health"}}
	docLive         = operation{Summary: "The process is up", Tag: "health", Responses: map[int]string{200: "Health"}}
	docReady        = operation{Summary: "Postgres, Redis and Temporal are reachable (503 names the failing one)", Tag: "health", Responses: map[int]string{200: "Dependencies", 503: "Dependencies"}}
	docDependencies = operation{Summary: "Each dependency's status and latency", Tag: "health", Responses: map[int]string{200: "Dependencies"}}
	docCache        = operation{Summary: "Cache counters of the job status cache and Redis' status", Tag: "health", Responses: map[int]string{200: "Object"}}
	docMetrics      = operation{Summary: "Prometheus metrics (text exposition format)", Tag: "health", Responses: map[int]string{200: "Text"}}
	docOpenAPI      = operation{Summary: "This document", Tag: "health", Responses: map[int]string{200: "Object"}}

	docMe        = operation{Summary: "The calling key's tenant and role", Tag: "tenant", Responses: map[int]string{200: "Object", 401: "Error"}}
	docListKeys  = operation{Summary: "List the tenant's API keys (hashes are never shown)", Tag: "tenant", Responses: map[int]string{200: "APIKeyList", 401: "Error", 403: "Error"}}
	docCreateKey = operation{Summary: "Create an API key; the key is returned once", Tag: "tenant", Body: "CreateKeyRequest", Responses: map[int]string{201: "CreatedKey", 400: "Error", 401: "Error", 403: "Error"}}
	docRevokeKey = operation{Summary: "Revoke an API key", Tag: "tenant", Responses: map[int]string{200: "APIKey", 401: "Error", 403: "Error", 404: "Error"}}

	docListJobs = operation{Summary: "The tenant's jobs, newest first, from Temporal visibility", Tag: "jobs",
		Query: []param{
			{"kind", "string", "import | report | delivery | notification | clickhouse_sync | delivery_replay | classification | privacy_export | privacy_erase"},
			{"status", "string", "queued | running | completed | failed | canceled | timed_out"},
			{"page_size", "integer", "1-100, default 20"},
			{"page_token", "string", "next_page_token of the previous page"},
		},
		Responses: map[int]string{200: "JobPage", 400: "Error", 401: "Error", 503: "Error"}}
	docGetJob = operation{Summary: "A job's status, progress, result or error", Tag: "jobs",
		Query:     []param{{"wait", "string", "long-poll up to this duration (e.g. 20s, at most 60s) for the job to finish"}},
		Responses: jobResponses}
	docCancelJob   = operation{Summary: "Ask a running job to stop", Tag: "jobs", Responses: map[int]string{202: "Job", 401: "Error", 403: "Error", 404: "Error", 409: "Error"}}
	docJobHistory  = operation{Summary: "Audit view of the job from its workflow's event history", Tag: "jobs", Responses: map[int]string{200: "History", 401: "Error", 404: "Error"}}
	docResetJob    = operation{Summary: "Reset the job's workflow to a workflow task and re-run from there (ops)", Tag: "jobs", Body: "ResetRequest", Responses: map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 404: "Error", 409: "Error"}}
	importResponse = map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 409: "Error", 413: "Error", 415: "Error", 503: "Error"}

	docImportEvents = operation{Summary: "Import impact events (NDJSON or a JSON array of ImpactEventRow); starts an import job", Tag: "imports",
		Body: "upload:ImpactEventRow", Responses: importResponse}
	docImportEvidence = operation{Summary: "Import evidence snippets (NDJSON or a JSON array of EvidenceRow); starts an import job", Tag: "imports",
		Body: "upload:EvidenceRow", Responses: importResponse}
)

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func props(required []string, p obj) obj {
	o := obj{"type": "object", "properties": p}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var (
	str     = obj{"type": "string"}
	integer = obj{"type": "integer"}
	number  = obj{"type": "number"}
	boolean = obj{"type": "boolean"}
	anyObj  = obj{"type": "object"}
	stamp   = obj{"type": "string", "format": "date-time"}
)

func nullable(o obj) obj { return obj{"oneOf": []any{o, obj{"type": "null"}}} }

func schemas() obj {
	errorPayload := props([]string{"code", "message"}, obj{"code": str, "message": str, "details": anyObj, "request_id": str})
	job := props([]string{"id", "kind", "status", "created_at", "links"}, obj{
		"id": str, "kind": str, "status": obj{"type": "string", "enum": []string{"queued", "running", "completed", "failed", "canceled", "timed_out"}},
		"progress":   nullable(props(nil, obj{"done": integer, "total": integer, "step": str, "sections": obj{"type": "object", "additionalProperties": str}})),
		"created_at": stamp, "closed_at": nullable(stamp), "result": obj{}, "error": nullable(props(nil, obj{"type": str, "message": str})),
		"run_id": str, "links": props(nil, obj{"self": str, "history": str, "cancel": str, "reset": str}),
	})
	apiKey := props(nil, obj{"id": str, "tenant_id": str, "name": str, "prefix": str, "role": str,
		"created_at": stamp, "revoked_at": nullable(stamp), "last_used_at": nullable(stamp)})
	dep := props(nil, obj{"status": str, "latency_ms": number, "error": str})
	participantName := obj{"type": "string", "maxLength": 200,
		"description": "the participant's full name: creates or renames their record (needs participant)"}
	all := obj{
		"Error":            props([]string{"error"}, obj{"error": errorPayload}),
		"Job":              job,
		"JobPage":          props(nil, obj{"jobs": obj{"type": "array", "items": ref("Job")}, "next_page_token": str}),
		"History":          props(nil, obj{"job_id": str, "run_id": str, "status": str, "complete": boolean, "entries": obj{"type": "array", "items": anyObj}, "pending_activities": obj{"type": "array", "items": anyObj}}),
		"ResetRequest":     props([]string{"reason"}, obj{"reason": str, "to": obj{"type": "string", "enum": []string{"first_workflow_task", "last_workflow_task", "event"}}, "event_id": integer}),
		"APIKey":           apiKey,
		"APIKeyList":       props(nil, obj{"api_keys": obj{"type": "array", "items": ref("APIKey")}}),
		"CreateKeyRequest": props([]string{"name", "role"}, obj{"name": str, "role": obj{"type": "string", "enum": []string{"admin", "operator", "viewer"}}}),
		"CreatedKey":       obj{"allOf": []any{ref("APIKey"), props([]string{"key"}, obj{"key": str})}},
		"Health":           props(nil, obj{"status": str, "version": str}),
		"Dependencies":     props(nil, obj{"status": str, "failing": obj{"type": "array", "items": str}, "dependencies": obj{"type": "object", "additionalProperties": dep}}),
		"ImpactEventRow": props([]string{"event_id", "program", "participant", "kind", "occurred_at", "value"}, obj{
			"event_id": str, "program": str, "participant": str,
			"kind":        obj{"type": "string", "enum": []string{"signup", "session_started", "session_completed", "volunteer_hours", "outcome_measured", "donation"}},
			"occurred_at": stamp, "value": number, "attributes": anyObj, "participant_name": participantName,
		}),
		"EvidenceRow": props([]string{"snippet_id", "program", "text", "source", "occurred_at"}, obj{
			"snippet_id": str, "program": str, "participant": str, "text": str,
			"source": obj{"type": "string", "enum": []string{"survey", "interview", "case_note", "email", "other"}}, "occurred_at": stamp,
			"participant_name": participantName,
		}),
		"ImportResult": props(nil, obj{"target": str, "rows": integer, "inserted": integer, "updated": integer, "unchanged": integer,
			"rejected": integer, "rejections_truncated": boolean,
			"rejections": obj{"type": "array", "items": props(nil, obj{"line": integer, "reason": str})}}),
		"Object": anyObj,
		"Text":   str,
	}
	for name, schema := range deliverySchemas() {
		all[name] = schema
	}
	for k, v := range notificationSchemas() {
		all[k] = v
	}
	maps.Copy(all, analyticsSchemas())
	maps.Copy(all, retentionSchemas())
	return all
}

// openAPIDocument builds the OpenAPI 3 document from the route table.
func (s *Server) openAPIDocument() obj {
	paths := obj{}
	for _, r := range s.routes() {
		path := openAPIPath(r.path)
		item, _ := paths[path].(obj)
		if item == nil {
			item = obj{}
			paths[path] = item
		}
		op := obj{"summary": r.doc.Summary, "tags": []string{r.doc.Tag}, "operationId": operationID(r.method, r.path)}
		var params []any
		for _, seg := range strings.Split(r.path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				params = append(params, obj{"name": name, "in": "path", "required": true, "schema": str})
			}
		}
		for _, q := range r.doc.Query {
			params = append(params, obj{"name": q.Name, "in": "query", "description": q.Description, "schema": obj{"type": q.Type}})
		}
		if r.upload || r.doc.IdempotencyKey { // the job-starting POSTs; jobID() reads the header
			params = append(params, obj{"name": "Idempotency-Key", "in": "header", "schema": str,
				"description": "a retried request with the same key returns the same job instead of starting a second"})
		}
		for _, h := range r.doc.Headers {
			params = append(params, obj{"name": h.Name, "in": "header", "description": h.Description, "schema": obj{"type": h.Type}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.role != "" {
			op["security"] = []any{obj{"bearer": []string{}}}
			op["description"] = "Requires a key with role " + string(r.role) + " or higher."
		}
		if row, ok := strings.CutPrefix(r.doc.Body, "upload:"); ok {
			op["requestBody"] = obj{"required": true, "content": obj{
				"application/x-ndjson": obj{"schema": obj{"type": "string", "description": "one " + row + " JSON object per line"}},
				"application/json":     obj{"schema": obj{"type": "array", "items": ref(row)}},
			}}
		} else if form, ok := strings.CutPrefix(r.doc.Body, "form:"); ok {
			op["requestBody"] = obj{"required": true, "content": obj{"application/x-www-form-urlencoded": obj{"schema": ref(form)}}}
		} else if r.doc.Body != "" {
			op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": ref(r.doc.Body)}}}
		}
		responses := obj{}
		for code, schema := range r.doc.Responses {
			ct := "application/json"
			if schema == "Text" {
				ct = "text/plain"
			}
			responses[strconv.Itoa(code)] = obj{"description": http.StatusText(code), "content": obj{ct: obj{"schema": ref(schema)}}}
		}
		op["responses"] = responses
		item[strings.ToLower(r.method)] = op
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{"title": "impactflow API", "version": s.version,
			"description": "Durable CSR impact workflows on Temporal. Every job-starting POST answers 202 with a Location: /v1/jobs/{id} header; GET /v1/jobs/{id} returns the same shape."},
		"paths": paths,
		"components": obj{
			"schemas":         withSchemas(schemas(), reportSchemas(), classifySchemas(), codecSchemas(), participantSchemas(), privacySchemas()),
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "description": "an impactflow API key (ifk_...)"}},
		},
	}
}

// withSchemas adds an area's schemas to the shared ones.
func withSchemas(all obj, more ...obj) obj {
	for _, m := range more {
		for k, v := range m {
			all[k] = v
		}
	}
	return all
}

func (s *Server) openAPI(c *gin.Context) { c.JSON(http.StatusOK, s.openAPIDocument()) }

// openAPIPath turns gin's /v1/jobs/:id into OpenAPI's /v1/jobs/{id}.
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if name, ok := strings.CutPrefix(seg, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(path, "/") {
		seg = strings.TrimPrefix(seg, ":")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
