package api

import (
	"errors"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

var uploadTypes = map[string]bool{
	"application/json": true, "application/x-ndjson": true, "application/ndjson": true,
	"application/jsonl": true, "application/x-jsonlines": true,
}

func (s *Server) importEvents(c *gin.Context)   { s.importUpload(c, ingest.TargetEvents) }
func (s *Server) importEvidence(c *gin.Context) { s.importUpload(c, ingest.TargetEvidence) }

// importUpload stages the body in Postgres chunk by chunk (a malformed file is a 400 and
// starts nothing), then starts the ImportWorkflow that validates and writes the rows.
func (s *Server) importUpload(c *gin.Context, target ingest.Target) {
	ctx := c.Request.Context()
	tenant := mustPrincipal(c).TenantID
	if mt, _, err := mime.ParseMediaType(c.ContentType()); err != nil || !uploadTypes[mt] {
		s.fail(c, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send NDJSON (application/x-ndjson) or a JSON array (application/json)", Details: map[string]string{"field": "Content-Type"}})
		return
	}
	id, err := jobID(c, jobs.KindImport, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}

	// Parsing runs a couple of chunks ahead of the writes, so Go and Postgres work at once.
	chunks := ingest.NewPrefetch(ingest.NewSplitter(c.Request.Body, ingest.ChunkRows), 2)
	defer chunks.Stop()
	up, err := s.store.StageUpload(ctx, id, tenant, target, chunks)
	var syntax *ingest.SyntaxError
	if errors.As(err, &syntax) {
		s.fail(c, &apiError{Status: http.StatusBadRequest, Code: "malformed_upload", Message: syntax.Error(),
			Details: map[string]any{"field": "body", "line": syntax.Line}})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}

	job, err := s.jobs.Start(ctx, tenant, id, jobs.StartOptions{
		TaskQueue: temporal.TaskQueueImports,
		Workflow:  workflows.ImportWorkflow,
		Input: workflows.ImportInput{
			TenantID: tenant, JobID: id, Target: target, Rows: up.Rows, Chunks: up.Chunks,
			ChunksPerActivity: workflows.ImportChunksPerActivity,
			Local:             up.Chunks <= workflows.ImportLocalMaxChunks,
		},
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

// jobID is the new job's ID: derived from the Idempotency-Key when there is one, so that a
// retried request finds the job the first one started.
func jobID(c *gin.Context, kind jobs.Kind, tenant string) (string, error) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		return jobs.NewID(kind), nil
	}
	if len(key) > maxIdempotencyKey || !printable(key) {
		return "", badRequest("Idempotency-Key", "Idempotency-Key must be 1-%d printable ASCII characters", maxIdempotencyKey)
	}
	return jobs.IDForKey(kind, tenant, key), nil
}
