package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/jobs"
)

// maxWait bounds ?wait= on GET /v1/jobs/:id.
const maxWait = 60 * time.Second

// Page sizes of lists.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

func (s *Server) getJob(c *gin.Context) {
	tenant, id := mustPrincipal(c).TenantID, c.Param("id")
	w := c.Query("wait")
	if w == "" {
		// The status poll: the job as the service cached it, already encoded.
		body, err := s.jobs.GetJSON(c.Request.Context(), tenant, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Data(http.StatusOK, jsonContentType, body)
		return
	}
	d, err := time.ParseDuration(w)
	if err != nil || d < 0 || d > maxWait {
		s.fail(c, badRequest("wait", "wait must be a duration between 0s and %s, e.g. 20s", maxWait))
		return
	}
	job, err := s.jobs.Wait(c.Request.Context(), tenant, id, d)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, job)
}

// jsonContentType is what gin's c.JSON sends, for answers written as encoded bytes.
const jsonContentType = "application/json; charset=utf-8"

func (s *Server) listJobs(c *gin.Context) {
	f := jobs.Filter{Kind: jobs.Kind(c.Query("kind")), Status: jobs.Status(c.Query("status")), PageToken: c.Query("page_token")}
	if f.Kind != "" && !f.Kind.Valid() {
		s.fail(c, badRequest("kind", "kind must be one of %s", joinKinds()))
		return
	}
	if f.Status != "" && !validStatus(f.Status) {
		s.fail(c, badRequest("status", "status must be one of queued, running, completed, failed, canceled, timed_out"))
		return
	}
	var err error
	if f.PageSize, err = pageSize(c); err != nil {
		s.fail(c, err)
		return
	}
	page, err := s.jobs.List(c.Request.Context(), mustPrincipal(c).TenantID, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) cancelJob(c *gin.Context) {
	job, err := s.jobs.Cancel(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, job)
}

func (s *Server) jobHistory(c *gin.Context) {
	h, err := s.jobs.History(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h)
}

type resetRequest struct {
	Reason  string `json:"reason"`
	To      string `json:"to"`
	EventID int64  `json:"event_id"`
}

func (s *Server) resetJob(c *gin.Context) {
	var req resetRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" || len(req.Reason) > 500 {
		s.fail(c, badRequest("reason", "reason is required (at most 500 characters): it is kept in the job's history"))
		return
	}
	to := jobs.ResetTarget(req.To)
	switch {
	case to == "" && req.EventID != 0:
		to = jobs.ResetEvent
	case to == "":
		to = jobs.ResetFirstWorkflowTask
	case to != jobs.ResetFirstWorkflowTask && to != jobs.ResetLastWorkflowTask && to != jobs.ResetEvent:
		s.fail(c, badRequest("to", "to must be first_workflow_task, last_workflow_task or event"))
		return
	}
	if to == jobs.ResetEvent && req.EventID <= 0 {
		s.fail(c, badRequest("event_id", "event_id is required when to is event"))
		return
	}
	p := mustPrincipal(c)
	job, err := s.jobs.Reset(c.Request.Context(), p.TenantID, c.Param("id"), jobs.ResetRequest{
		To: to, EventID: req.EventID, Reason: req.Reason, By: "api key " + p.Prefix,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, job)
}

// accepted answers a job-starting POST: 202, the job, and where to poll it.
func accepted(c *gin.Context, job jobs.Job) {
	c.Header("Location", job.Links.Self)
	c.JSON(http.StatusAccepted, job)
}

// pageSize reads ?page_size=, defaultPageSize when absent.
func pageSize(c *gin.Context) (int, error) {
	ps := c.Query("page_size")
	if ps == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, badRequest("page_size", "page_size must be between 1 and %d", maxPageSize)
	}
	return n, nil
}

func validStatus(st jobs.Status) bool {
	for _, known := range jobs.Statuses {
		if st == known {
			return true
		}
	}
	return false
}

func joinKinds() string {
	names := make([]string, len(jobs.Kinds))
	for i, k := range jobs.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
