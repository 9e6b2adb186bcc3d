package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/retention"
)

var (
	docGetRetention = operation{Summary: "How long each class of the tenant's data is kept, in days", Tag: "privacy",
		Responses: map[int]string{200: "Retention", 401: "Error", 403: "Error", 503: "Error"}}
	docPutRetention = operation{Summary: "Set retention periods per data class (null puts a class back to the default)", Tag: "privacy",
		Body: "RetentionRequest", Responses: map[int]string{200: "Retention", 400: "Error", 401: "Error", 403: "Error", 503: "Error"}}
)

func retentionSchemas() obj {
	days := obj{"type": "integer", "minimum": retention.MinDays, "maximum": retention.MaxDays}
	req := obj{}
	classes := make([]string, len(retention.Classes))
	for i, c := range retention.Classes {
		req[string(c)] = nullable(days)
		classes[i] = string(c)
	}
	return obj{
		"RetentionRequest": props(nil, req),
		"Retention": props(nil, obj{
			"classes": obj{"type": "array", "items": props(nil, obj{
				"class": obj{"type": "string", "enum": classes}, "days": days, "default_days": days, "custom": boolean})},
			"min_days": integer, "max_days": integer, "schedule": str,
		}),
	}
}

type retentionClass struct {
	Class       retention.Class `json:"class"`
	Days        int             `json:"days"`
	DefaultDays int             `json:"default_days"`
	Custom      bool            `json:"custom"`
}

type retentionView struct {
	Classes  []retentionClass `json:"classes"`
	MinDays  int              `json:"min_days"`
	MaxDays  int              `json:"max_days"`
	Schedule string           `json:"schedule"`
}

func (s *Server) getRetention(c *gin.Context) {
	p, err := s.store.RetentionPolicy(c.Request.Context(), mustPrincipal(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := retentionView{MinDays: retention.MinDays, MaxDays: retention.MaxDays, Schedule: "privacy-retention"}
	for _, class := range retention.Classes {
		_, custom := p.Overrides[class]
		v.Classes = append(v.Classes, retentionClass{Class: class, Days: p.Days(class), DefaultDays: retention.Default(class), Custom: custom})
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) putRetention(c *gin.Context) {
	var req map[string]*int
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req) == 0 {
		s.fail(c, badRequest("body", "name at least one data class, e.g. {\"events\": 730}"))
		return
	}
	set := make(map[retention.Class]*int, len(req))
	for name, days := range req {
		class := retention.Class(name)
		if !class.Valid() {
			s.fail(c, badRequest(name, "%q is not a data class; the classes are %s", name, classList()))
			return
		}
		if days != nil {
			if err := retention.CheckDays(*days); err != nil {
				s.fail(c, badRequest(name, "%s %s", name, err.Error()))
				return
			}
		}
		set[class] = days
	}
	if err := s.store.SetRetention(c.Request.Context(), mustPrincipal(c).TenantID, set); err != nil {
		s.fail(c, err)
		return
	}
	s.getRetention(c)
}

func classList() string {
	names := make([]string, len(retention.Classes))
	for i, c := range retention.Classes {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}
