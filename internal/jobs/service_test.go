package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
)

func TestWaitKeepsPollingThroughTimeoutsAndBusyWorkflows(t *testing.T) {
	for _, tc := range []struct {
		err  error
		poll bool
	}{
		{context.DeadlineExceeded, true},
		{serviceerror.NewDeadlineExceeded("poll"), true},
		{fmt.Errorf("history: %w", serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW, "Workflow is busy.")), true},
		{serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT, "rps"), false},
		{serviceerror.NewNotFound("gone"), false},
		{errors.New("boom"), false},
	} {
		if got := isTimeout(tc.err) || isBusy(tc.err); got != tc.poll {
			t.Errorf("%v: keep polling %v, want %v", tc.err, got, tc.poll)
		}
	}
}
