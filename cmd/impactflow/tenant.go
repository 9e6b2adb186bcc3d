package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"regexp"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/config"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

const tenantUsage = `usage: impactflow tenant delete [--no-wait] <tenant-id>

Starts the tenant_deletion job: revokes the tenant's keys, deletes its schedules, stops and
deletes its workflows, deletes its rows from Postgres, ClickHouse and Redis, and destroys
its payload data key. A worker (impactflow worker, or impactflow dev) runs the job; this
command waits for it and prints its result, unless --no-wait.`

// tenantIDPattern is the tenants table's CHECK on IDs.
var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// runTenant is the operators' control of tenants without HTTP: for now, deletion.
func runTenant(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	if len(args) == 0 || args[0] != "delete" {
		fmt.Fprintln(os.Stderr, tenantUsage)
		return errors.New("tenant: name a command")
	}
	fs := flag.NewFlagSet("tenant delete", flag.ContinueOnError)
	noWait := fs.Bool("no-wait", false, "start the job and print its ID without waiting for it")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 || !tenantIDPattern.MatchString(fs.Arg(0)) {
		fmt.Fprintln(os.Stderr, tenantUsage)
		return errors.New("tenant delete: give one tenant ID (lower-case letters, digits and dashes)")
	}
	tenantID := fs.Arg(0)
	// Against a dev stack, the key ring is the one dev keeps in DATA_DIR.
	cfg.SecretKey, _ = keptSecretKey(cfg)
	p, err := openPlatform(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.close()
	run, err := p.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        jobs.IDForKey(jobs.KindTenantDeletion, tenantID, "delete"),
		TaskQueue: temporal.TaskQueuePrivacy,
		// A deletion already running is joined, not started twice.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(
			temporal.SearchAttrTenantID.ValueSet(temporal.PlatformTenant),
			temporal.SearchAttrJobKind.ValueSet(string(jobs.KindTenantDeletion)),
		),
	}, workflows.TenantDeletionWorkflow, workflows.TenantDeletionInput{TenantID: tenantID})
	if err != nil {
		return fmt.Errorf("start the deletion of %s: %w", tenantID, err)
	}
	fmt.Fprintf(os.Stderr, "tenant_deletion job %s started for %s\n", run.GetID(), tenantID)
	if *noWait {
		fmt.Println(run.GetID())
		return nil
	}
	var res workflows.TenantDeletionResult
	if err := run.Get(ctx, &res); err != nil {
		return fmt.Errorf("deletion of %s: %w", tenantID, err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(out))
	return nil
}
