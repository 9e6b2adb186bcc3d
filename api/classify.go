package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

const (
	maxClassifyLimit   = 1_000_000
	maxClassifyBatch   = 100
	classifyBatchTurns = 60 // an answer's tokens per snippet, for the 429 check at start
)

type classifyRequest struct {
	Programs  []string `json:"programs"`
	Limit     int      `json:"limit"`
	BatchSize int      `json:"batch_size"`
	Model     string   `json:"model"`
}

// classifyEvidence starts a classification job over the tenant's unclassified evidence.
// Like a report, it is refused with 429 when the AI budget cannot pay for one batch.
func (s *Server) classifyEvidence(c *gin.Context) {
	ctx := c.Request.Context()
	tenant := mustPrincipal(c).TenantID
	var req classifyRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	in := workflows.ClassifyInput{TenantID: tenant, Programs: req.Programs, Limit: req.Limit, BatchSize: req.BatchSize,
		Model: req.Model, Offline: s.reports.Offline}
	if in.Limit < 0 || in.Limit > maxClassifyLimit {
		s.fail(c, badRequest("limit", "limit must be between 1 and %d (0 or absent: every unclassified snippet)", maxClassifyLimit))
		return
	}
	if in.BatchSize < 0 || in.BatchSize > maxClassifyBatch {
		s.fail(c, badRequest("batch_size", "batch_size must be between 1 and %d (0 or absent: 20)", maxClassifyBatch))
		return
	}
	var err error
	if in.Programs, err = s.knownPrograms(ctx, tenant, in.Programs); err != nil {
		s.fail(c, err)
		return
	}
	switch {
	case in.Offline:
		in.Model = llm.OfflineClassifierModel
	case in.Model == "":
		in.Model = s.reports.Model
	case !reModel.MatchString(in.Model):
		s.fail(c, badRequest("model", "model must be a model name such as gpt-4o-mini"))
		return
	}
	if !in.Offline {
		batch := in.BatchSize
		if batch == 0 {
			batch = 20
		}
		if err := s.checkBudget(ctx, tenant, workflows.ReportInput{Model: in.Model, MaxTokens: classifyBatchTurns * batch}); err != nil {
			s.failBudget(c, err)
			return
		}
	}
	id, err := jobID(c, jobs.KindClassification, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	in.JobID = id
	job, err := s.jobs.Start(ctx, tenant, id, jobs.StartOptions{TaskQueue: temporal.TaskQueueReports, Workflow: workflows.ClassifyWorkflow, Input: in})
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

// getEvidence returns one evidence snippet with the classifier's labels.
func (s *Server) getEvidence(c *gin.Context) {
	e, err := s.store.EvidenceSnippet(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(c, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such evidence snippet"})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

var (
	docClassifyEvidence = operation{Summary: "Start a classification job: the LLM (or, without OPENAI_API_KEY, the offline lexicon classifier) labels the tenant's unclassified evidence with outcome dimensions and scores from 0 to 1, in batches, under the AI budget (429 when it is exhausted)",
		Tag: "reports", Body: "ClassifyRequest", IdempotencyKey: true,
		Responses: map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 429: "Error", 503: "Error"}}
	docGetEvidence = operation{Summary: "An evidence snippet with the classifier's labels (null until classified)", Tag: "reports",
		Responses: map[int]string{200: "Evidence", 401: "Error", 404: "Error", 503: "Error"}}
)

// classifySchemas are the OpenAPI schemas of the classification routes.
func classifySchemas() obj {
	label := props([]string{"dimension", "score"}, obj{"dimension": obj{"type": "string", "enum": llm.Dimensions},
		"score": obj{"type": "number", "minimum": 0, "maximum": 1, "description": "0 absent or worse, 0.5 neutral, 1 a strong positive change"}})
	nullable := func(t string) obj { return obj{"type": []string{t, "null"}} }
	return obj{
		"ClassifyRequest": props(nil, obj{
			"programs":   obj{"type": "array", "items": str, "description": "program codes; all programs when empty"},
			"limit":      obj{"type": "integer", "minimum": 0, "maximum": maxClassifyLimit, "description": "most snippets to label; all unclassified ones when 0"},
			"batch_size": obj{"type": "integer", "minimum": 0, "maximum": maxClassifyBatch, "description": "snippets per LLM call; 20 when 0"},
			"model":      obj{"type": "string", "description": "LLM_MODEL when empty; ignored by the offline classifier"},
		}),
		"Evidence": props(nil, obj{"snippet_id": str, "program": str, "participant_id": str, "source": str, "text": str, "occurred_at": stamp,
			"labels":            obj{"type": []string{"array", "null"}, "items": label},
			"outcome_dimension": obj{"type": []string{"string", "null"}, "description": "the highest-scoring label's dimension"},
			"outcome_score":     nullable("number"), "classified_at": nullable("string"), "classifier_model": nullable("string"),
			"classifier_job_id": nullable("string")}),
	}
}
