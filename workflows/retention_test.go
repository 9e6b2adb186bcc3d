package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/retention"
)

// retentionEnv answers TenantsPage from tenants in pages, plans every class with the
// default period, and lets purge decide each purge's answer; it records the purges.
func retentionEnv(tenants []string, purge func(privacy.PurgeInput) (privacy.PurgeResult, error)) (*testsuite.TestWorkflowEnvironment, *[]privacy.PurgeInput) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(TenantRetentionWorkflow)
	var a *privacy.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.TenantsPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in privacy.TenantsPageInput) ([]string, error) {
			var page []string
			for _, t := range tenants {
				if t > in.After && len(page) < in.Limit {
					page = append(page, t)
				}
			}
			return page, nil
		})
	env.OnActivity(a.RetentionPlan, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in privacy.RetentionPlanInput) ([]privacy.ClassCutoff, error) {
			var out []privacy.ClassCutoff
			p := retention.Policy{}
			for _, c := range retention.Classes {
				out = append(out, privacy.ClassCutoff{Class: c, Days: p.Days(c), Cutoff: p.Cutoff(c, in.AsOf)})
			}
			return out, nil
		})
	var mu sync.Mutex
	var purges []privacy.PurgeInput
	env.OnActivity(a.PurgeExpired, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in privacy.PurgeInput) (privacy.PurgeResult, error) {
			mu.Lock()
			purges = append(purges, in)
			mu.Unlock()
			return purge(in)
		})
	return env, &purges
}

func TestRetentionWorkflowPurgesEveryClassOfEveryTenant(t *testing.T) {
	var tenants []string
	for i := range 150 { // two pages
		tenants = append(tenants, fmt.Sprintf("tenant-%03d", i))
	}
	env, purges := retentionEnv(tenants, func(in privacy.PurgeInput) (privacy.PurgeResult, error) {
		if in.Class == retention.Events {
			return privacy.PurgeResult{Deleted: 10}, nil
		}
		return privacy.PurgeResult{Deleted: 1}, nil
	})
	asOf := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(RetentionWorkflow, RetentionInput{AsOf: &asOf})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res RetentionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Tenants != 150 || res.Deleted[retention.Events] != 1500 || res.Deleted[retention.StagedUploads] != 150 {
		t.Errorf("result = %+v", res)
	}
	if got, want := len(*purges), 150*len(retention.Classes); got != want {
		t.Errorf("%d purges, want %d", got, want)
	}
	for _, p := range *purges {
		if want := asOf.AddDate(0, 0, -retention.Default(p.Class)); !p.Cutoff.Equal(want) {
			t.Fatalf("%s of %s purged up to %v, want %v", p.Class, p.TenantID, p.Cutoff, want)
		}
	}
}

func TestTenantRetentionWorkflowRetriesAPurgeUntilTheStoreIsBack(t *testing.T) {
	failures := 3
	env, _ := retentionEnv(nil, func(in privacy.PurgeInput) (privacy.PurgeResult, error) {
		if in.Class == retention.Evidence && failures > 0 {
			failures--
			return privacy.PurgeResult{}, errors.New("connect to postgres: connection refused")
		}
		return privacy.PurgeResult{Deleted: 2}, nil
	})
	asOf := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(TenantRetentionWorkflow, TenantRetentionInput{TenantID: "acme", AsOf: asOf})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res TenantRetentionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if failures != 0 || len(res.Classes) != len(retention.Classes) {
		t.Fatalf("failures left %d, result %+v", failures, res)
	}
	for _, c := range res.Classes {
		if c.Deleted != 2 || c.Days != retention.Default(c.Class) {
			t.Errorf("class %+v", c)
		}
	}
}
