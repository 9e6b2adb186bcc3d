package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// offboardTenant makes a tenant with a program, an admin and an operator key and one
// participant, and puts the participant's data into every store the way production does:
// imports, a report, a notification, a weekly schedule, a sync and a cached answer. It
// returns the operator key and the report's job ID.
func offboardTenant(t *testing.T, tenant, name, email, phone, evidence string) (admin, operator, reportID, scheduleID string) {
	t.Helper()
	ctx := context.Background()
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: tenant, Name: tenant, Industry: "retail", Region: "eu", SizeBand: "51-200", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertPrograms(ctx, []store.Program{{TenantID: tenant, Code: "mentoring", Name: "Mentoring"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertParticipants(ctx, []store.Participant{{TenantID: tenant, ID: "p-1", FullName: name, Email: email, Phone: phone}}); err != nil {
		t.Fatal(err)
	}
	keys := map[store.Role]string{}
	for _, role := range []store.Role{store.RoleAdmin, store.RoleOperator} {
		keys[role] = store.NewKeySecret()
		if _, err := env.store.CreateAPIKey(ctx, tenant, string(role), role, keys[role]); err != nil {
			t.Fatal(err)
		}
	}
	admin, operator = keys[store.RoleAdmin], keys[store.RoleOperator]
	completedJob(t, upload(t, "/v1/impact-events", operator, fmt.Sprintf(
		`{"event_id":"ob-1","program":"mentoring","participant":"p-1","participant_name":%q,"kind":"signup","occurred_at":"2026-05-04T09:00:00Z","value":1}
{"event_id":"ob-2","program":"mentoring","participant":"p-1","kind":"session_completed","occurred_at":"2026-05-11T09:00:00Z","value":1}
`, name)), operator)
	completedJob(t, upload(t, "/v1/evidence", operator, fmt.Sprintf(
		`{"snippet_id":"ob-s1","program":"mentoring","participant":"p-1","text":"%s said: %s Call %s.","source":"interview","occurred_at":"2026-05-12T09:00:00Z"}
`, name, evidence, phone)), operator)
	report := completedJob(t, postJSON(t, "/v1/gen-reports/generate", operator,
		map[string]any{"period": map[string]string{"from": "2026-05-01", "to": "2026-05-31"}, "locale": "en"}), operator)
	reportID, _ = report.Body["id"].(string)
	completedJob(t, postJSON(t, "/v1/notifications/send", operator, map[string]any{"channel": "email", "to": []string{email},
		"subject": "Your mentor", "body": "Hello " + name + ", your mentor is confirmed."}), operator)
	weekly := postJSON(t, "/v1/notifications/schedule", operator, map[string]any{"channel": "email", "to": []string{email},
		"subject": "Weekly digest", "body": "Hello " + name + ".", "recurrence": map[string]any{"calendar": map[string]any{"day_of_week": "TUE", "hour": "8"}}})
	if weekly.Status != http.StatusCreated {
		t.Fatalf("create schedule: %d %s", weekly.Status, weekly.Raw)
	}
	scheduleID, _ = weekly.Body["id"].(string)
	syncNow(t, operator)
	if r := getJSON(t, "/v1/analytics/trends?metric=participants&granularity=month&from=2026-05-01&to=2026-05-31", operator); r.Status != http.StatusOK {
		t.Fatalf("trends: %d %s", r.Status, r.Raw)
	}
	return admin, operator, reportID, scheduleID
}

// startedInput returns the first payload of the workflow's start event.
func startedInput(t *testing.T, workflowID string) *commonpb.Payload {
	t.Helper()
	iter := env.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			return a.GetInput().GetPayloads()[0]
		}
	}
	t.Fatalf("no start event in %s", workflowID)
	return nil
}

func deleteTenant(t *testing.T, tenant string) (string, workflows.TenantDeletionResult) {
	t.Helper()
	ctx := context.Background()
	run, err := env.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: jobs.IDForKey(jobs.KindTenantDeletion, tenant, "delete"), TaskQueue: temporal.TaskQueuePrivacy,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(
			temporal.SearchAttrTenantID.ValueSet(temporal.PlatformTenant), temporal.SearchAttrJobKind.ValueSet(string(jobs.KindTenantDeletion))),
	}, workflows.TenantDeletionWorkflow, workflows.TenantDeletionInput{TenantID: tenant})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var res workflows.TenantDeletionResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	return run.GetID(), res
}

// TestTenantDeletionLeavesNothingOfTheTenant offboards one of two tenants that hold data
// in every store, then checks that no store holds a readable copy of the deleted one's
// data, that its old payloads no longer decode, and that the other tenant is untouched.
func TestTenantDeletionLeavesNothingOfTheTenant(t *testing.T) {
	ctx := context.Background()
	const gone, kept = "offboard-co", "offboard-keep"
	goneNeedles := []string{"Zanele Okonkwo-Brandt", "zanele.ob@example.net", "+447700900733", "The seed library in Tottenworth doubled its lenders."}
	keptNeedles := []string{"Ilkka Virtanen-Saari", "ilkka.vs@example.fi", "+447700900944", "The repair café in Brindlemoor fixed forty bikes."}
	_, goneOperator, goneReport, goneSchedule := offboardTenant(t, gone, goneNeedles[0], goneNeedles[1], goneNeedles[2], goneNeedles[3])
	_, keptOperator, _, keptSchedule := offboardTenant(t, kept, keptNeedles[0], keptNeedles[1], keptNeedles[2], keptNeedles[3])
	oldPayload := startedInput(t, goneReport)
	before := scanStoresFor(t, gone, goneNeedles)
	// ClickHouse holds events by pseudonymous participant ID, so it is checked by tenant.
	if len(before["postgres"]) == 0 || len(before["temporal"]) == 0 {
		t.Fatalf("before the deletion the scan misses the tenant's data (%v): the scan is broken", before)
	}
	if tables, err := env.analytics.TablesHolding(ctx, gone); err != nil || len(tables) == 0 {
		t.Fatalf("before the deletion ClickHouse holds nothing of the tenant (%v, %v)", tables, err)
	}
	var keptEvents int
	_ = env.store.Pool().QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = $1`, kept).Scan(&keptEvents)

	id, res := deleteTenant(t, gone)
	t.Logf("deletion result: %+v", res)
	if !res.Existed || res.KeysRevoked != 2 || len(res.Schedules) != 1 || res.Schedules[0] != goneSchedule ||
		res.Postgres["impact_events"] != 2 || res.Postgres["participants"] != 1 || res.ClickHouse["events"] == 0 ||
		!res.DataKeysDestroyed || res.Executions < 5 || !res.TenantRowDeleted {
		t.Errorf("deletion result = %+v", res)
	}
	recordHistory(t, id, "tenant_deletion")

	for store, hits := range scanStoresFor(t, gone, goneNeedles) {
		for _, h := range hits {
			t.Errorf("%s still holds the deleted tenant's data: %s", store, h)
		}
	}
	for _, table := range store.TenantTables() {
		var n int
		if err := env.store.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, gone).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s keeps %d rows of the deleted tenant", table, n)
		}
	}
	if _, err := env.store.Tenant(ctx, gone); err != store.ErrNotFound {
		t.Errorf("the tenant row: %v", err)
	}
	if tables, err := env.analytics.TablesHolding(ctx, gone); err != nil || len(tables) != 0 {
		t.Errorf("ClickHouse tables naming the tenant: %v (%v)", tables, err)
	}
	keysLeft, _ := env.cache.Redis.Keys(ctx, env.redisPrefix+"*"+gone+"*").Result()
	if len(keysLeft) != 0 {
		t.Errorf("Redis keys naming the tenant: %v", keysLeft)
	}
	left, err := env.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: "TenantId = '" + gone + "'"})
	if err != nil || len(left.GetExecutions()) != 0 {
		t.Errorf("workflows of the tenant left: %d (%v)", len(left.GetExecutions()), err)
	}
	var v any
	if err := env.payloads.FromPayload(oldPayload, &v); err == nil {
		t.Error("a payload of the deleted tenant still decodes: its data key survived")
	}
	// Its keys are gone; an API process that cached one stops taking it within the TTL.
	for deleted := time.Now(); getJSON(t, "/v1/me", goneOperator).Status != http.StatusUnauthorized; time.Sleep(50 * time.Millisecond) {
		if time.Since(deleted) > api.KeyCacheTTL+time.Second {
			t.Fatalf("the deleted tenant's key still works %s after its deletion", time.Since(deleted).Round(time.Millisecond))
		}
	}

	// The other tenant keeps everything.
	var n int
	_ = env.store.Pool().QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = $1`, kept).Scan(&n)
	if n != keptEvents || n == 0 {
		t.Errorf("the other tenant has %d events, had %d", n, keptEvents)
	}
	if r := getJSON(t, "/v1/notifications/schedules/"+keptSchedule, keptOperator); r.Status != http.StatusOK {
		t.Errorf("the other tenant's schedule: %d %s", r.Status, r.Raw)
	}
	still := scanStoresFor(t, kept, keptNeedles)
	if len(still["postgres"]) == 0 || len(still["temporal"]) == 0 {
		t.Errorf("the other tenant lost data: %v", still)
	}
	if tables, _ := env.analytics.TablesHolding(ctx, kept); len(tables) == 0 {
		t.Error("ClickHouse lost the other tenant")
	}
	if strings.Contains(fmt.Sprint(res), keptNeedles[0]) {
		t.Error("the result names the other tenant's data")
	}

	// Deleting again finds nothing left and says so.
	_, again := deleteTenant(t, gone)
	if again.Existed || again.TenantRowDeleted || again.Postgres["impact_events"] != 0 {
		t.Errorf("second deletion = %+v", again)
	}
}
