package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	privacyact "github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/privacy"
)

// PrivacyExportWorkflow is a privacy_export job (privacy.ExportWorkflow): it gathers every
// record of one participant into a JSON document stored for download outside the history,
// then emits privacy.export.completed. Its history holds the participant's pseudonymous
// ID and counts per table, never the records.
func PrivacyExportWorkflow(ctx workflow.Context, in privacy.ExportInput) (privacy.ExportResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{privacyact.ErrTypeUnknownParticipant}},
	})
	var a *privacyact.Activities
	progress := jobs.Progress{Total: 2, Step: "gather"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return privacy.ExportResult{}, err
	}

	var res privacy.ExportResult
	if err := workflow.ExecuteActivity(ctx, a.BuildExport, in).Get(ctx, &res); err != nil {
		return privacy.ExportResult{}, err
	}
	progress.Done, progress.Step = 1, "notify"

	emit := privacyact.EmitExportInput{TenantID: in.TenantID, ExportID: res.ExportID, ParticipantID: in.ParticipantID, ExpiresAt: res.ExpiresAt}
	if err := workflow.ExecuteActivity(ctx, a.EmitExportCompleted, emit).Get(ctx, nil); err != nil {
		return privacy.ExportResult{}, err
	}
	progress.Done, progress.Step = 2, "done"
	return res, nil
}
