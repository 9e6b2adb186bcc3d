package workflows

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
)

// importChunksEnv is a test environment whose ImportChunks answers with result (n is the
// rows of the chunks asked for) and records each activity's [first, end) chunk range.
func importChunksEnv(result func(in imports.ImportChunksInput, n int) store.ChunkResult) (*testsuite.TestWorkflowEnvironment, *[][2]int) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *imports.Activities
	env.RegisterActivity(a)
	var ranges [][2]int
	env.OnActivity(a.ImportChunks, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in imports.ImportChunksInput) (imports.ImportChunksResult, error) {
			ranges = append(ranges, [2]int{in.FirstChunk, in.EndChunk})
			return imports.ImportChunksResult{ChunkResult: result(in, (in.EndChunk-in.FirstChunk)*ingest.ChunkRows)}, nil
		})
	return env, &ranges
}

func TestImportWorkflowBatchesChunksAndSumsResults(t *testing.T) {
	env, ranges := importChunksEnv(func(in imports.ImportChunksInput, n int) store.ChunkResult {
		rej := make([]ingest.Rejection, 600)
		for i := range rej {
			rej[i] = ingest.Rejection{Line: in.FirstChunk*ingest.ChunkRows + i + 1, Reason: "bad"}
		}
		return store.ChunkResult{Rows: n, Inserted: n - 700, Updated: 50, Unchanged: 50, Rejected: 600, Rejections: rej}
	})

	in := ImportInput{TenantID: "demo", JobID: "import-x", Target: ingest.TargetEvents, Rows: 25 * ingest.ChunkRows, Chunks: 25}
	env.ExecuteWorkflow(ImportWorkflow, in)

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ImportResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{0, 10}, {10, 20}, {20, 25}}; len(*ranges) != 3 || (*ranges)[0] != want[0] || (*ranges)[1] != want[1] || (*ranges)[2] != want[2] {
		t.Errorf("activity ranges = %v, want %v", *ranges, want)
	}
	if res.Rows != in.Rows || res.Rejected != 1800 || res.Updated != 150 || res.Inserted != in.Rows-2100 {
		t.Errorf("result = %+v", res)
	}
	if len(res.Rejections) != imports.MaxRejections || !res.RejectionsTruncated {
		t.Errorf("rejections: %d listed, truncated=%v; want %d and true", len(res.Rejections), res.RejectionsTruncated, imports.MaxRejections)
	}

	v, err := env.QueryWorkflow(jobs.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p jobs.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	if p.Done != int64(in.Rows) || p.Total != int64(in.Rows) || p.Step != "done" {
		t.Errorf("progress = %+v", p)
	}
}

// TestImportWorkflowTakesItsBatchSizeFromTheInput: an input that names a batch size gets
// it; one that does not (written before the field existed) keeps the original 10, the
// command sequence its history recorded.
func TestImportWorkflowTakesItsBatchSizeFromTheInput(t *testing.T) {
	for _, tt := range []struct {
		per  int
		want [][2]int
	}{
		{0, [][2]int{{0, 10}, {10, 20}, {20, 25}}},
		{ImportChunksPerActivity, [][2]int{{0, 20}, {20, 25}}},
	} {
		env, ranges := importChunksEnv(func(_ imports.ImportChunksInput, n int) store.ChunkResult {
			return store.ChunkResult{Rows: n, Inserted: n}
		})
		env.ExecuteWorkflow(ImportWorkflow, ImportInput{TenantID: "demo", JobID: "import-b", Target: ingest.TargetEvents,
			Rows: 25 * ingest.ChunkRows, Chunks: 25, ChunksPerActivity: tt.per})
		var res ImportResult
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(*ranges, tt.want) || res.Inserted != 25*ingest.ChunkRows {
			t.Errorf("chunks per activity %d: ranges %v, inserted %d; want %v, %d", tt.per, *ranges, res.Inserted, tt.want, 25*ingest.ChunkRows)
		}
	}
}

// TestImportWorkflowRunsASmallUploadLocally: an input marked Local imports every chunk in
// one local activity, and no regular activity is scheduled.
func TestImportWorkflowRunsASmallUploadLocally(t *testing.T) {
	env, ranges := importChunksEnv(func(_ imports.ImportChunksInput, n int) store.ChunkResult {
		return store.ChunkResult{Rows: 10, Inserted: 9, Rejected: 1, Rejections: []ingest.Rejection{{Line: 3, Reason: "bad"}}}
	})
	var local, regular int
	env.SetOnLocalActivityStartedListener(func(*activity.Info, context.Context, []any) { local++ })
	env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) { regular++ })

	env.ExecuteWorkflow(ImportWorkflow, ImportInput{TenantID: "demo", JobID: "import-s", Target: ingest.TargetEvents,
		Rows: 10, Chunks: 1, ChunksPerActivity: ImportChunksPerActivity, Local: true})

	var res ImportResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if local != 1 || regular != 0 || !slices.Equal(*ranges, [][2]int{{0, 1}}) {
		t.Errorf("%d local and %d regular activities over %v; want one local over [[0 1]]", local, regular, *ranges)
	}
	if res.Rows != 10 || res.Inserted != 9 || res.Rejected != 1 || len(res.Rejections) != 1 || res.Rejections[0].Line != 3 {
		t.Errorf("result = %+v", res)
	}
}

func TestImportWorkflowFailsOnMissingUpload(t *testing.T) {
	for _, local := range []bool{false, true} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		var a *imports.Activities
		env.RegisterActivity(a)
		env.OnActivity(a.ImportChunks, mock.Anything, mock.Anything).Return(imports.ImportChunksResult{},
			temporal.NewNonRetryableApplicationError("chunk 0 of upload import-z is missing", imports.ErrTypeUploadMissing, nil)).Once()

		env.ExecuteWorkflow(ImportWorkflow, ImportInput{TenantID: "demo", JobID: "import-z", Target: ingest.TargetEvents, Rows: 1, Chunks: 1, Local: local})

		err := env.GetWorkflowError()
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != imports.ErrTypeUploadMissing {
			t.Fatalf("local %v: err = %v, want an %s application error", local, err, imports.ErrTypeUploadMissing)
		}
	}
}
