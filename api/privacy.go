package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/jobs"
)

// maxEraseReason bounds an erase request's reason, in characters.
const maxEraseReason = 1000

// exportParticipant starts a privacy_export job for the participant.
func (s *Server) exportParticipant(c *gin.Context) {
	tenant := mustPrincipal(c).TenantID
	id, err := jobID(c, jobs.KindPrivacyExport, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	job, err := s.privacy.StartExport(c.Request.Context(), tenant, c.Param("id"), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

type eraseRequest struct {
	Reason string `json:"reason"`
}

// eraseParticipant starts a privacy_erase job for the participant (POST
// /v1/privacy/participants/:id/erase, and DELETE /v1/participants/:id).
func (s *Server) eraseParticipant(c *gin.Context) {
	tenant := mustPrincipal(c).TenantID
	var req eraseRequest
	if q, ok := c.GetQuery("reason"); ok && c.Request.ContentLength == 0 {
		// A DELETE is often sent without a body: the reason may come as ?reason=.
		req.Reason = q
	} else if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		s.fail(c, badRequest("reason", "reason is required: say why the participant is erased (e.g. their request of a date)"))
		return
	}
	if utf8.RuneCountInString(req.Reason) > maxEraseReason {
		s.fail(c, badRequest("reason", "reason must be at most %d characters", maxEraseReason))
		return
	}
	id, err := jobID(c, jobs.KindPrivacyErase, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	job, err := s.privacy.StartErase(c.Request.Context(), tenant, c.Param("id"), req.Reason, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

// getExport downloads an export while it has not expired.
func (s *Server) getExport(c *gin.Context) {
	e, err := s.privacy.Export(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+e.ID+`.json"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json", e.Document)
}

var (
	docExportParticipant = operation{Summary: "Start a privacy_export job: every record of the participant (events, evidence and its labels, report paragraphs and citations quoting it, notifications and messages to their email or phone, suppressions, ClickHouse rows) into one JSON document, downloadable for 7 days at /v1/privacy/exports/{job id}; emits privacy.export.completed. 404 when the tenant holds nothing about them",
		Tag: "privacy", IdempotencyKey: true,
		Responses: map[int]string{202: "Job", 401: "Error", 403: "Error", 404: "Error", 503: "Error"}}
	docEraseParticipant = operation{Summary: "Start a privacy_erase job: the participant is deleted or anonymised in Postgres, ClickHouse and its derived views, Redis caches, report texts (their quotes and name become [erased]) and Temporal (the histories that carry their data are deleted; running reports over their evidence and notifications to them are canceled first). Erasing again is a no-op whose result says already_erased. The reason is required and is kept with the erasure record, not in the job's history",
		Tag: "privacy", Body: "EraseRequest", IdempotencyKey: true,
		Responses: map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 404: "Error", 503: "Error"}}
	docDeleteParticipant = operation{Summary: "Erase the participant: the same as POST /v1/privacy/participants/{id}/erase; the reason comes in the body or as ?reason=",
		Tag: "privacy", Body: "EraseRequest", IdempotencyKey: true, Query: []param{{"reason", "string", "why the participant is erased, when there is no body"}},
		Responses: map[int]string{202: "Job", 400: "Error", 401: "Error", 403: "Error", 404: "Error", 503: "Error"}}
	docGetExport = operation{Summary: "Download a participant's export (a JSON document, format impactflow.participant-export/v1); 404 after 7 days, for another tenant's and once the participant is erased",
		Tag: "privacy", Responses: map[int]string{200: "Object", 401: "Error", 403: "Error", 404: "Error", 503: "Error"}}
)

// privacySchemas are the OpenAPI schemas of the privacy routes.
func privacySchemas() obj {
	return obj{
		"EraseRequest": props([]string{"reason"}, obj{"reason": obj{"type": "string", "minLength": 1, "maxLength": maxEraseReason,
			"description": "why the participant is erased (e.g. their request of a date)"}}),
	}
}
