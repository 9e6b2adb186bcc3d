package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/impactflow/impactflow/internal/store"
)

// The invented person the privacy test exports and erases.
const (
	dsarTenant      = "privco"
	dsarParticipant = "p-7f3a"
	dsarName        = "Thandiwe Oyelaran-Brooks"
	dsarEmail       = "thandiwe.ob@example.net"
	dsarPhone       = "+447700900461"
	dsarEvidence    = "the robotics club made me want to study engineering"
)

// dsarNeedles are the strings of hers no store may hold after the erasure.
var dsarNeedles = []string{dsarName, "Thandiwe", "Oyelaran", dsarEmail, dsarPhone, "7700900461", dsarEvidence}

// historyConverter decodes the payloads of the histories the scan reads with the tenant's
// keys, as an operator signed in to the codec would read them: encryption alone does not
// count as erasure while its key still opens the data.
func historyConverter() converter.DataConverter { return env.payloads }

// privacyTenant makes a tenant with a program, an admin and an operator key, and her
// participant record beside another's.
func privacyTenant(t *testing.T) (admin, operator string) {
	t.Helper()
	ctx := context.Background()
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: dsarTenant, Name: "Privco", Industry: "education", Region: "uk", SizeBand: "1-50", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertPrograms(ctx, []store.Program{{TenantID: dsarTenant, Code: "mentoring", Name: "Mentoring"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertParticipants(ctx, []store.Participant{
		{TenantID: dsarTenant, ID: dsarParticipant, FullName: dsarName, Email: dsarEmail, Phone: dsarPhone},
		{TenantID: dsarTenant, ID: "p-other", FullName: "Mateus Ferreira Lima"},
	}); err != nil {
		t.Fatal(err)
	}
	keys := map[store.Role]string{}
	for _, role := range []store.Role{store.RoleAdmin, store.RoleOperator} {
		keys[role] = store.NewKeySecret()
		if _, err := env.store.CreateAPIKey(ctx, dsarTenant, string(role), role, keys[role]); err != nil {
			t.Fatal(err)
		}
	}
	return keys[store.RoleAdmin], keys[store.RoleOperator]
}

func completedJob(t *testing.T, r response, key string) response {
	t.Helper()
	if r.Status != http.StatusAccepted {
		t.Fatalf("start job: %d %s", r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	if r.Header.Get("Location") != "/v1/jobs/"+id {
		t.Errorf("Location = %q for job %s", r.Header.Get("Location"), id)
	}
	done := waitJob(t, id, key)
	if done.Body["status"] != "completed" {
		t.Fatalf("job %s: %s", id, done.Raw)
	}
	return done
}

// TestPrivacyEraseLeavesNoReadableCopy puts one participant into events, evidence, a
// report, notifications, ClickHouse and the Redis cache, exports her, erases her, and then
// scans every store for each of her strings: a pg_dump of the database, every ClickHouse
// table, the Redis keys of the run, and every history of the tenant with its payloads
// decoded.
func TestPrivacyEraseLeavesNoReadableCopy(t *testing.T) {
	admin, operator := privacyTenant(t)

	// Her data goes in the way it does in production: imports, a report, notifications, a sync.
	events := fmt.Sprintf(`{"event_id":"pv-1","program":"mentoring","participant":%q,"kind":"signup","occurred_at":"2026-04-01T09:00:00Z","value":1,"attributes":{"cohort":"B","participant_name":%q}}
{"event_id":"pv-2","program":"mentoring","participant":%q,"kind":"session_completed","occurred_at":"2026-04-08T09:00:00Z","value":1,"attributes":{"cohort":"B"}}
{"event_id":"pv-3","program":"mentoring","participant":"p-other","kind":"signup","occurred_at":"2026-04-02T09:00:00Z","value":1,"attributes":{"cohort":"B"}}
`, dsarParticipant, dsarName, dsarParticipant)
	completedJob(t, upload(t, "/v1/impact-events", operator, events), operator)
	evidence := fmt.Sprintf(`{"snippet_id":"pv-s1","program":"mentoring","participant":%q,"text":"%s said %s. Text her on %s.","source":"interview","occurred_at":"2026-04-10T09:00:00Z"}
{"snippet_id":"pv-s2","program":"mentoring","participant":"p-other","text":"Attendance doubled once sessions moved to Saturdays.","source":"case_note","occurred_at":"2026-04-11T09:00:00Z"}
`, dsarParticipant, dsarName, dsarEvidence, dsarPhone)
	completedJob(t, upload(t, "/v1/evidence", operator, evidence), operator)
	report := completedJob(t, postJSON(t, "/v1/gen-reports/generate", operator,
		map[string]any{"period": map[string]string{"from": "2026-04-01", "to": "2026-04-30"}, "locale": "en"}), operator)
	reportID, _ := report.Body["id"].(string)
	completedJob(t, postJSON(t, "/v1/notifications/send", operator, map[string]any{"channel": "email", "to": []string{dsarEmail},
		"template": "welcome", "locale": "en", "data": map[string]any{"name": dsarName, "tenant_name": "Privco", "login_url": "https://app.example.com/login"}}), operator)
	completedJob(t, postJSON(t, "/v1/notifications/send", operator, map[string]any{"channel": "sms", "to": []string{dsarPhone},
		"subject": "Robotics club", "body": "Hi " + dsarName + ", the club meets on Saturday."}), operator)
	// A reminder due tomorrow is a running job when she is erased: it must be stopped.
	reminder := postJSON(t, "/v1/notifications/schedule", operator, map[string]any{"channel": "sms", "to": []string{dsarPhone},
		"subject": "Reminder", "body": "Hi " + dsarName + ", see you tomorrow.", "send_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)})
	if reminder.Status != http.StatusAccepted {
		t.Fatalf("scheduled send: %d %s", reminder.Status, reminder.Raw)
	}
	reminderID, _ := reminder.Body["id"].(string)
	for deadline := time.Now().Add(10 * time.Second); getJSON(t, "/v1/notifications/"+reminderID, operator).Status != http.StatusOK; {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled notification was not recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// So is a weekly notification to her and the front desk.
	weekly := postJSON(t, "/v1/notifications/schedule", operator, map[string]any{"channel": "email", "to": []string{dsarEmail, "desk@example.org"},
		"template": "welcome", "locale": "en", "data": map[string]any{"name": dsarName, "tenant_name": "Privco", "login_url": "https://app.example.com/login"},
		"recurrence": map[string]any{"calendar": map[string]any{"day_of_week": "MON", "hour": "9"}}})
	if weekly.Status != http.StatusCreated {
		t.Fatalf("create schedule: %d %s", weekly.Status, weekly.Raw)
	}
	weeklyID, _ := weekly.Body["id"].(string)
	syncNow(t, operator)
	if r := getJSON(t, "/v1/analytics/trends?metric=participants&granularity=month&from=2026-04-01&to=2026-04-30", operator); r.Status != http.StatusOK {
		t.Fatalf("trends: %d %s", r.Status, r.Raw)
	}
	before := scanStores(t)
	for _, store := range []string{"postgres", "clickhouse", "temporal"} {
		if len(before[store]) == 0 {
			t.Fatalf("before the erasure the scan finds nothing of hers in %s: the scan is broken", store)
		}
	}

	for store, hits := range before {
		t.Logf("before the erasure, %s: %d hits", store, len(hits))
	}

	// Bad input.
	if r := postJSON(t, "/v1/privacy/participants/p-nobody/export", admin, nil); r.Status != http.StatusNotFound {
		t.Errorf("export of an unknown participant: %d %s", r.Status, r.Raw)
	}
	if r := postJSON(t, "/v1/privacy/participants/"+dsarParticipant+"/erase", env.keys["acme/admin"], map[string]string{"reason": "x"}); r.Status != http.StatusNotFound {
		t.Errorf("erase of another tenant's participant: %d %s", r.Status, r.Raw)
	}
	if r := postJSON(t, "/v1/privacy/participants/"+dsarParticipant+"/erase", operator, map[string]string{"reason": "x"}); r.Status != http.StatusForbidden {
		t.Errorf("erase by an operator: %d %s", r.Status, r.Raw)
	}
	for _, body := range []any{map[string]string{}, map[string]string{"reason": "  "}} {
		if r := postJSON(t, "/v1/privacy/participants/"+dsarParticipant+"/erase", admin, body); r.Status != http.StatusBadRequest || r.errorField() != "reason" {
			t.Errorf("erase without a reason %v: %d %s", body, r.Status, r.Raw)
		}
	}

	// The privacy team is told when an export is ready.
	rule := map[string]any{"event_type": "privacy.export.completed", "channel": "email", "template": "gdpr_export_ready", "locale": "en", "recipients": []string{"dpo@example.org"}}
	if r := postJSON(t, "/v1/notifications/rules", admin, rule); r.Status != http.StatusCreated {
		t.Fatalf("rule: %d %s", r.Status, r.Raw)
	}

	// The export holds her records, downloadable by her tenant's admin only.
	export := completedJob(t, postJSON(t, "/v1/privacy/participants/"+dsarParticipant+"/export", admin, nil), admin)
	exportID, _ := result(export)["export_id"].(string)
	doc := getJSON(t, "/v1/privacy/exports/"+exportID, admin)
	if doc.Status != http.StatusOK || doc.Body["format"] != "impactflow.participant-export/v1" {
		t.Fatalf("GET export: %d %s", doc.Status, doc.Raw)
	}
	for _, s := range []string{dsarName, dsarEmail, dsarPhone, dsarEvidence, reportID, "pv-1", "pv-s1"} {
		if !strings.Contains(string(doc.Raw), s) {
			t.Errorf("the export lacks %q", s)
		}
	}
	if strings.Contains(string(doc.Raw), "Mateus") || strings.Contains(string(doc.Raw), "Saturdays") {
		t.Error("the export holds another participant's records")
	}
	if r := getJSON(t, "/v1/privacy/exports/"+exportID, env.keys["acme/admin"]); r.Status != http.StatusNotFound {
		t.Errorf("another tenant's export: %d", r.Status)
	}
	recordHistory(t, export.Body["id"].(string), "privacy_export")
	var status string
	for deadline := time.Now().Add(20 * time.Second); status != "sent"; time.Sleep(100 * time.Millisecond) {
		_ = env.store.Pool().QueryRow(context.Background(), `SELECT status FROM notifications WHERE tenant_id = $1 AND template = 'gdpr_export_ready'`, dsarTenant).Scan(&status)
		if time.Now().After(deadline) {
			t.Fatalf("no gdpr_export_ready notification was sent for privacy.export.completed (status %q)", status)
		}
	}

	// Erase her.
	erase := completedJob(t, postJSON(t, "/v1/privacy/participants/"+dsarParticipant+"/erase", admin, map[string]string{"reason": "her request by email of 2026-12-01"}), admin)
	res := result(erase)
	t.Logf("erase result: %s", erase.Raw)
	pg, _ := res["postgres"].(map[string]any)
	if res["already_erased"] != false || num(pg, "impact_events") != 2 || num(pg, "evidence_snippets") != 1 || num(pg, "participants") != 1 {
		t.Errorf("erase result: %s", erase.Raw)
	}
	stopped, _ := res["stopped"].(map[string]any)
	if fmt.Sprint(stopped["canceled"]) != "["+reminderID+"]" {
		t.Errorf("stopped %v, want the reminder %s canceled", stopped, reminderID)
	}
	if schedules, _ := res["schedules"].(map[string]any); fmt.Sprint(schedules["recreated"]) != "["+weeklyID+"]" {
		t.Errorf("schedules %v, want %s recreated without her", schedules, weeklyID)
	}
	if r := getJSON(t, "/v1/notifications/schedules/"+weeklyID, operator); r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "desk@example.org") {
		t.Errorf("the weekly notification after the erasure: %d %s", r.Status, r.Raw)
	}
	deleted, _ := res["deleted_executions"].([]any)
	if !strings.Contains(fmt.Sprint(deleted), reportID) || len(deleted) < 5 {
		t.Errorf("deleted executions %v, want the report, both imports and both notifications", deleted)
	}
	for _, s := range dsarNeedles {
		if strings.Contains(string(erase.Raw), s) {
			t.Errorf("the erase job's result holds %q", s)
		}
	}
	recordHistory(t, erase.Body["id"].(string), "privacy_erase")

	after := scanStores(t)
	for store, hits := range after {
		for _, h := range hits {
			t.Errorf("%s still holds her data: %s", store, h)
		}
	}

	// The report stays, with her quotes and name replaced.
	if r := getJSON(t, "/v1/gen-reports/"+reportID, operator); r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "[erased]") {
		t.Errorf("report after the erasure: %d %s", r.Status, r.Raw)
	}
	if r := getJSON(t, "/v1/privacy/exports/"+exportID, admin); r.Status != http.StatusNotFound {
		t.Errorf("her export after the erasure: %d", r.Status)
	}
	// Erasing again (here as DELETE /v1/participants/:id?reason=) is a no-op that says so.
	again := completedJob(t, call(t, http.MethodDelete, "/v1/participants/"+dsarParticipant+"?reason=asked+twice", admin, "", nil), admin)
	if result(again)["already_erased"] != true {
		t.Errorf("second erase: %s", again.Raw)
	}
	recordHistory(t, again.Body["id"].(string), "privacy_erase_already_erased")
	if r := postJSON(t, "/v1/privacy/participants/"+dsarParticipant+"/export", admin, nil); r.Status != http.StatusNotFound {
		t.Errorf("export after the erasure: %d %s", r.Status, r.Raw)
	}
}

// scanStores returns, per store, where her strings are found.
func scanStores(t *testing.T) map[string][]string {
	t.Helper()
	return scanStoresFor(t, dsarTenant, dsarNeedles)
}

// scanStoresFor returns, per store, where any of the needles is found: a pg_dump, every
// ClickHouse table, the run's Redis keys and values, every schedule, and every history the
// tenant's TenantId lists (its schedulers' too), payloads decoded with the tenants' keys.
func scanStoresFor(t *testing.T, tenant string, needles []string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	found := map[string][]string{}
	hit := func(store, where, text string) {
		lower := strings.ToLower(text)
		for _, n := range needles {
			if strings.Contains(lower, strings.ToLower(n)) {
				found[store] = append(found[store], fmt.Sprintf("%s holds %q", where, n))
			}
		}
	}

	dump, err := exec.Command("pg_dump", "--no-owner", "--dbname", env.dbURL).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	for i, line := range strings.Split(string(dump), "\n") {
		hit("postgres", fmt.Sprintf("pg_dump line %d (%.120s)", i+1, line), line)
	}

	for _, n := range needles {
		tables, err := env.analytics.TablesHolding(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for table, rows := range tables {
			found["clickhouse"] = append(found["clickhouse"], fmt.Sprintf("%d rows of %s hold %q", rows, table, n))
		}
	}

	rdb := env.cache.Redis
	iter := rdb.Scan(ctx, 0, env.redisPrefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var value string
		switch rdb.Type(ctx, key).Val() {
		case "string":
			value = rdb.Get(ctx, key).Val()
		case "hash":
			value = fmt.Sprint(rdb.HGetAll(ctx, key).Val())
		case "list":
			value = fmt.Sprint(rdb.LRange(ctx, key, 0, -1).Val())
		case "set":
			value = fmt.Sprint(rdb.SMembers(ctx, key).Val())
		case "zset":
			value = fmt.Sprint(rdb.ZRange(ctx, key, 0, -1).Val())
		}
		hit("redis", "key "+key, key+" "+value)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}

	schedules, err := env.temporal.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for schedules.HasNext() {
		entry, err := schedules.Next()
		if err != nil {
			t.Fatal(err)
		}
		d, err := env.temporal.ScheduleClient().GetHandle(ctx, entry.ID).Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
			for _, arg := range a.Args {
				if p, ok := arg.(*commonpb.Payload); ok {
					texts = append(texts, historyConverter().ToString(p))
				}
			}
		}
		hit("temporal", "schedule "+entry.ID, strings.Join(texts, "\n"))
	}
	// The tenant's executions, and the scheduler workflows behind its schedules (which the
	// default listing leaves out).
	for _, query := range []string{"TenantId = '" + tenant + "'", "TenantId = '" + tenant + "' AND TemporalNamespaceDivision = 'TemporalScheduler'"} {
		scanHistories(t, query, hit)
	}
	return found
}

// scanHistories reads every history the visibility query lists, its payloads decoded.
func scanHistories(t *testing.T, query string, hit func(store, where, text string)) {
	t.Helper()
	ctx := context.Background()
	var token []byte
	for {
		resp, err := env.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: query, PageSize: 100, NextPageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range resp.GetExecutions() {
			ex := info.GetExecution()
			it := env.temporal.GetWorkflowHistory(ctx, ex.GetWorkflowId(), ex.GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatalf("history of %s: %v", ex.GetWorkflowId(), err)
				}
				raw, _ := protojson.Marshal(ev)
				texts := []string{string(raw)}
				payloadTexts(ev.ProtoReflect(), &texts)
				hit("temporal", fmt.Sprintf("%s event %d (%s)", ex.GetWorkflowId(), ev.GetEventId(), ev.GetEventType()), strings.Join(texts, "\n"))
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return
		}
	}
}

// payloadTexts appends every payload in m, decoded with historyConverter.
func payloadTexts(m protoreflect.Message, out *[]string) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		*out = append(*out, historyConverter().ToString(p))
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				payloadTexts(v.List().Get(i).Message(), out)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				payloadTexts(mv.Message(), out)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			payloadTexts(v.Message(), out)
		}
		return true
	})
}
