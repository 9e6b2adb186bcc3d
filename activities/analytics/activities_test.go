package analytics

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/config"
)

// Finish must heartbeat while the views refresh: over millions of events a refresh
// outlasts the sync's heartbeat timeout, and a Finish that stayed silent was timed out and
// started over, again and again (seen in the benchmark: three attempts, six minutes).
func TestFinishHeartbeatsWhileTheViewsRefresh(t *testing.T) {
	cfg, err := config.Load() // CHDB_LIB_PATH, or where scripts/setup.sh installs it
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := analytics.Open(ctx, analytics.Options{LibPath: cfg.CHDBLibPath, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	beats := 0
	env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats++ })
	a := &Activities{DB: db}
	env.RegisterActivity(a)
	run := analytics.Run{RunID: "sync-test", Mode: ModeIncremental, StartedAt: time.Now()}
	if _, err := env.ExecuteActivity(a.Finish, FinishInput{Run: run}); err != nil {
		t.Fatal(err)
	}
	// The SDK throttles heartbeats (RefreshViews calls back at every phase and status
	// read, TestRefreshViewsReportsEachPhase): at least one must have gone out.
	if beats == 0 {
		t.Fatal("Finish never heartbeated while the views refreshed")
	}
	if last, ok, err := db.LastRun(ctx); err != nil || !ok || last.RunID != run.RunID {
		t.Fatalf("the run was not recorded: %+v, %v, %v", last, ok, err)
	}
}
