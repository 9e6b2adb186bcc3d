package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	privacyact "github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/privacy"
)

func TestPrivacyExportStoresThenEmits(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *privacyact.Activities
	env.RegisterActivity(a)
	expires := time.Date(2026, 12, 15, 3, 0, 0, 0, time.UTC)
	in := privacy.ExportInput{TenantID: "acme", JobID: "privacy_export-1", ParticipantID: "p-1"}
	built := false
	env.OnActivity(a.BuildExport, mock.Anything, in).Return(func(context.Context, privacy.ExportInput) (privacy.ExportResult, error) {
		built = true
		return privacy.ExportResult{ExportID: in.JobID, Rows: map[string]int{"postgres.impact_events": 3}, ExpiresAt: expires}, nil
	}).Once()
	env.OnActivity(a.EmitExportCompleted, mock.Anything, privacyact.EmitExportInput{TenantID: "acme", ExportID: in.JobID, ParticipantID: "p-1", ExpiresAt: expires}).
		Return(func(context.Context, privacyact.EmitExportInput) error {
			if !built {
				t.Error("the event was emitted before the export was stored")
			}
			return nil
		}).Once()

	env.ExecuteWorkflow(PrivacyExportWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res privacy.ExportResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.ExportID != in.JobID || res.Rows["postgres.impact_events"] != 3 {
		t.Errorf("result = %+v", res)
	}
	env.AssertExpectations(t)
}

// An export of a participant the tenant holds nothing about fails at once, without retries
// and without an event.
func TestPrivacyExportOfUnknownParticipantFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *privacyact.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.BuildExport, mock.Anything, mock.Anything).Return(privacy.ExportResult{},
		temporal.NewNonRetryableApplicationError("unknown", privacyact.ErrTypeUnknownParticipant, nil)).Once()

	env.ExecuteWorkflow(PrivacyExportWorkflow, privacy.ExportInput{TenantID: "acme", JobID: "privacy_export-2", ParticipantID: "nobody"})
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != privacyact.ErrTypeUnknownParticipant {
		t.Fatalf("error = %v, want %s", err, privacyact.ErrTypeUnknownParticipant)
	}
	env.AssertExpectations(t)
}
