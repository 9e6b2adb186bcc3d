package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/retention"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

func putRaw(t *testing.T, path, key, body string) response {
	t.Helper()
	return call(t, http.MethodPut, path, key, "application/json", strings.NewReader(body))
}

func retentionDays(t *testing.T, r response) map[string]any {
	t.Helper()
	out := map[string]any{}
	classes, _ := r.Body["classes"].([]any)
	for _, c := range classes {
		m := c.(map[string]any)
		out[m["class"].(string)] = m
	}
	if len(out) != len(retention.Classes) {
		t.Fatalf("%d classes in %s", len(out), r.Raw)
	}
	return out
}

func TestRetentionSettings(t *testing.T) {
	admin := env.keys["globex/admin"]
	r := getJSON(t, "/v1/privacy/retention", admin)
	if r.Status != http.StatusOK {
		t.Fatalf("GET: %d %s", r.Status, r.Raw)
	}
	ev := retentionDays(t, r)["events"].(map[string]any)
	if num(ev, "days") != retention.Default(retention.Events) || ev["custom"] != false {
		t.Fatalf("events = %v", ev)
	}

	r = putRaw(t, "/v1/privacy/retention", admin, `{"events": 400, "staged_uploads": 60}`)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
	got := retentionDays(t, r)
	if ev := got["events"].(map[string]any); num(ev, "days") != 400 || ev["custom"] != true {
		t.Errorf("events after PUT = %v", ev)
	}
	if other := env.keys["acme/admin"]; num(retentionDays(t, getJSON(t, "/v1/privacy/retention", other))["events"].(map[string]any), "days") != retention.Default(retention.Events) {
		t.Error("one tenant's retention changed another's")
	}
	r = putRaw(t, "/v1/privacy/retention", admin, `{"events": null}`)
	if ev := retentionDays(t, r)["events"].(map[string]any); num(ev, "days") != retention.Default(retention.Events) || ev["custom"] != false {
		t.Errorf("events after reset = %v", ev)
	}

	for _, tc := range []struct{ body, field string }{
		{`{"photos": 90}`, "photos"},
		{`{"events": 29}`, "events"},
		{`{"evidence": 2556}`, "evidence"},
		{`{"events": "a year"}`, "events"},
		{`{}`, "body"},
	} {
		r := putRaw(t, "/v1/privacy/retention", admin, tc.body)
		if r.Status != http.StatusBadRequest || r.errorField() != tc.field {
			t.Errorf("PUT %s: %d field %q, want 400 naming %q (%s)", tc.body, r.Status, r.errorField(), tc.field, r.Raw)
		}
	}
	if r := getJSON(t, "/v1/privacy/retention", env.keys["globex/operator"]); r.Status != http.StatusForbidden {
		t.Errorf("operator GET: %d, want 403", r.Status)
	}
}

// TestRetentionRunDeletesWhatIsPastRetention gives one tenant a 30-day event retention,
// runs the scheduled workflow, and checks that its old events went, its recent ones and a
// second tenant's old ones stayed, and that the tenant sees the run as a job with counts.
func TestRetentionRunDeletesWhatIsPastRetention(t *testing.T) {
	ctx := context.Background()
	keys := map[string]string{}
	for _, tenant := range []string{"retention-short", "retention-default"} {
		if err := env.store.UpsertTenant(ctx, store.Tenant{ID: tenant, Name: tenant, Industry: "tech", Region: "eu", SizeBand: "1-50", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
			t.Fatal(err)
		}
		if err := env.store.UpsertPrograms(ctx, []store.Program{{TenantID: tenant, Code: "mentoring", Name: "Mentoring"}}); err != nil {
			t.Fatal(err)
		}
		secret := store.NewKeySecret()
		if _, err := env.store.CreateAPIKey(ctx, tenant, "admin", store.RoleAdmin, secret); err != nil {
			t.Fatal(err)
		}
		keys[tenant] = secret
		for i := range 8 {
			age := 60 * 24 * time.Hour // past 30 days
			if i >= 5 {
				age = 5 * 24 * time.Hour
			}
			if _, err := env.store.Pool().Exec(ctx, `
				INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value)
				SELECT $1, $2, id, 'p-1', 'signup', now() - $3::interval, 1 FROM programs WHERE tenant_id = $1`,
				tenant, fmt.Sprintf("ret-%d", i), fmt.Sprintf("%d seconds", int(age.Seconds()))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r := putRaw(t, "/v1/privacy/retention", keys["retention-short"], `{"events": 30}`); r.Status != http.StatusOK {
		t.Fatalf("PUT retention: %d %s", r.Status, r.Raw)
	}

	asOf := time.Now().UTC()
	run, err := env.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "privacy-retention-test-" + asOf.Format("150405.000"), TaskQueue: temporal.TaskQueuePrivacy,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(
			temporal.SearchAttrTenantID.ValueSet("_platform"), temporal.SearchAttrJobKind.ValueSet(string(jobs.KindRetention))),
	}, workflows.RetentionWorkflow, workflows.RetentionInput{AsOf: &asOf, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.RetentionResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	recordHistory(t, run.GetID(), "retention")
	if res.Deleted[retention.Events] < 5 {
		t.Errorf("run deleted %d events, want at least the 5 old ones", res.Deleted[retention.Events])
	}
	for tenant, want := range map[string]int{"retention-short": 3, "retention-default": 8} {
		var n int
		if err := env.store.Pool().QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = $1 AND event_id LIKE 'ret-%'`, tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s keeps %d events, want %d", tenant, n, want)
		}
	}

	// The tenant's own job: listed under its key, with the counts per class.
	list := getJSON(t, "/v1/jobs?kind=retention", keys["retention-short"])
	items, _ := list.Body["jobs"].([]any)
	if list.Status != http.StatusOK || len(items) != 1 {
		t.Fatalf("retention jobs: %d %s", list.Status, list.Raw)
	}
	id := items[0].(map[string]any)["id"].(string)
	job := waitJob(t, id, keys["retention-short"])
	recordHistory(t, id, "retention_tenant")
	classes, _ := result(job)["classes"].([]any)
	var events map[string]any
	for _, c := range classes {
		if m := c.(map[string]any); m["class"] == "events" {
			events = m
		}
	}
	if job.Body["status"] != "completed" || num(events, "deleted") != 5 || num(events, "days") != 30 {
		t.Errorf("tenant job = %s", job.Raw)
	}
	if other := getJSON(t, "/v1/jobs/"+id, keys["retention-default"]); other.Status != http.StatusNotFound {
		t.Errorf("another tenant reads the job: %d", other.Status)
	}
}
