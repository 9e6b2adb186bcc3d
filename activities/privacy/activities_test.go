package privacy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/internal/privacy"
	"github.com/impactflow/impactflow/internal/testdb"
)

// testPostgres migrates a database of the test's own, with one tenant and one participant.
func testPostgres(t *testing.T) privacy.Postgres {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.New(t, "privacyact"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, sql := range []string{
		`INSERT INTO tenants (id, name, industry, region, size_band) VALUES ('act-test', 'Act', 'tech', 'eu', 's')`,
		`INSERT INTO participants (tenant_id, id, full_name, email) VALUES ('act-test', 'p-1', 'Ivar Ødegård', 'ivar@example.org')`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	return privacy.Postgres{Pool: pool}
}

func TestBuildExport(t *testing.T) {
	pg := testPostgres(t)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Postgres: pg}
	env.RegisterActivity(a)

	v, err := env.ExecuteActivity(a.BuildExport, privacy.ExportInput{TenantID: "act-test", JobID: "privacy_export-1", ParticipantID: "p-1"})
	if err != nil {
		t.Fatal(err)
	}
	var res privacy.ExportResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.ExportID != "privacy_export-1" || res.Rows["postgres.participants"] != 1 || res.Links["download"] != "/v1/privacy/exports/privacy_export-1" {
		t.Errorf("result = %+v", res)
	}
	e, err := pg.LoadExport(context.Background(), "act-test", "privacy_export-1", time.Now())
	if err != nil || !strings.Contains(string(e.Document), "Ivar Ødegård") {
		t.Errorf("stored export = %s, %v", e.Document, err)
	}

	// Nobody by that ID: a permanent failure, not a retry.
	_, err = env.ExecuteActivity(a.BuildExport, privacy.ExportInput{TenantID: "act-test", JobID: "privacy_export-2", ParticipantID: "p-nobody"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeUnknownParticipant || !appErr.NonRetryable() {
		t.Errorf("unknown participant: %v", err)
	}
}

// A plan for someone already erased finds nothing to stop or delete and says so.
func TestPlanEraseOfErasedParticipant(t *testing.T) {
	pg := testPostgres(t)
	ctx := context.Background()
	if err := pg.RecordEraseRequest(ctx, "act-test", "p-1", "privacy_erase-1", "asked"); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.ErasePostgres(ctx, "act-test", "p-1", "privacy_erase-1"); err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Postgres: pg}
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.PlanErase, privacy.EraseInput{TenantID: "act-test", JobID: "privacy_erase-2", ParticipantID: "p-1"})
	if err != nil {
		t.Fatal(err)
	}
	var plan ErasePlan
	if err := v.Get(&plan); err != nil {
		t.Fatal(err)
	}
	if plan.Known || !plan.ErasedBefore || len(plan.Executions) != 0 {
		t.Errorf("plan = %+v", plan)
	}
}
