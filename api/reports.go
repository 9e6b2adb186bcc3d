package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"golang.org/x/sync/singleflight"

	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// ReportsConfig is what the report routes need to know about the LLM set-up.
type ReportsConfig struct {
	// Model is the default model; Offline means the offline extractive writer runs instead.
	Model   string
	Offline bool
	Prices  llm.Prices
	// DefaultLimitMicros is the monthly budget of tenants without their own.
	DefaultLimitMicros int64
}

const (
	maxReportDays    = 366
	maxPreferWait    = 60 * time.Second
	defaultMaxTokens = 800
	// budgetQueryTimeout bounds a read of the tenant's budget workflow; past it the
	// start goes ahead (the workflow enforces the budget anyway) and the cost summary
	// falls back to the Postgres mirror.
	budgetQueryTimeout = 2 * time.Second
	// sectionPromptTokens estimates one section's prompt, for the 429 check at start.
	sectionPromptTokens = 3000
)

var reModel = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,99}$`)

type generateRequest struct {
	Period struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"period"`
	Programs  []string `json:"programs"`
	Sections  []string `json:"sections"`
	Locale    string   `json:"locale"`
	Model     string   `json:"model"`
	MaxTokens int      `json:"max_tokens"`
}

// generateReport validates the request, refuses it with 429 when the tenant's AI budget is
// exhausted, and starts a ReportWorkflow. With `Prefer: wait=N` it waits up to N seconds
// and answers 200 with the report when it is done by then.
func (s *Server) generateReport(c *gin.Context) {
	ctx := c.Request.Context()
	tenant := mustPrincipal(c).TenantID
	var req generateRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	in, err := s.reportInput(ctx, tenant, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	wait, err := preferWait(c.GetHeader("Prefer"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if !in.Offline {
		if err := s.checkBudget(ctx, tenant, in); err != nil {
			s.failBudget(c, err)
			return
		}
	}
	id, err := jobID(c, jobs.KindReport, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	in.JobID = id
	job, err := s.jobs.Start(ctx, tenant, id, jobs.StartOptions{TaskQueue: temporal.TaskQueueReports, Workflow: workflows.ReportWorkflow, Input: in})
	if err != nil {
		s.fail(c, err)
		return
	}
	if wait > 0 {
		c.Header("Preference-Applied", "wait="+strconv.Itoa(int(wait/time.Second)))
		if job, err = s.jobs.Wait(ctx, tenant, id, wait); err != nil {
			s.fail(c, err)
			return
		}
		if job.Status == jobs.StatusCompleted {
			if r, err := s.store.Report(ctx, tenant, id); err == nil {
				c.Header("Location", job.Links.Self)
				c.JSON(http.StatusOK, reportView(r))
				return
			}
		}
	}
	accepted(c, job)
}

// reportInput checks every field and fills the defaults.
func (s *Server) reportInput(ctx context.Context, tenant string, req generateRequest) (workflows.ReportInput, error) {
	in := workflows.ReportInput{TenantID: tenant, Programs: req.Programs, Sections: req.Sections, Locale: req.Locale,
		Model: req.Model, MaxTokens: req.MaxTokens, Offline: s.reports.Offline, Version: workflows.ReportVersionCurrent}
	from, err := time.Parse(time.DateOnly, req.Period.From)
	if err != nil {
		return in, badRequest("period.from", "period.from must be a date, YYYY-MM-DD")
	}
	to, err := time.Parse(time.DateOnly, req.Period.To)
	if err != nil {
		return in, badRequest("period.to", "period.to must be a date, YYYY-MM-DD")
	}
	if to.Before(from) || to.Sub(from) > maxReportDays*24*time.Hour {
		return in, badRequest("period.to", "period.to must be on or after period.from and at most %d days later", maxReportDays)
	}
	in.From, in.To = req.Period.From, req.Period.To

	if len(in.Sections) == 0 {
		in.Sections = append([]string{}, llm.Sections...)
	}
	for i, sec := range in.Sections {
		if !slices.Contains(llm.Sections, sec) || slices.Contains(in.Sections[:i], sec) {
			return in, badRequest("sections", "sections must be distinct, among %s", strings.Join(llm.Sections, ", "))
		}
	}
	if in.Locale == "" {
		t, err := s.store.Tenant(ctx, tenant)
		if err != nil {
			return in, err
		}
		in.Locale = t.DefaultLocale
	}
	if !slices.Contains(llm.Locales, in.Locale) {
		return in, badRequest("locale", "locale must be one of %s", strings.Join(llm.Locales, ", "))
	}
	if in.Programs, err = s.knownPrograms(ctx, tenant, in.Programs); err != nil {
		return in, err
	}
	switch {
	case in.Offline:
		in.Model = llm.OfflineModel
	case in.Model == "":
		in.Model = s.reports.Model
	case !reModel.MatchString(in.Model):
		return in, badRequest("model", "model must be a model name such as gpt-4o-mini")
	}
	if in.MaxTokens == 0 {
		in.MaxTokens = defaultMaxTokens
	}
	if in.MaxTokens < 64 || in.MaxTokens > 8192 {
		return in, badRequest("max_tokens", "max_tokens must be between 64 and 8192")
	}
	return in, nil
}

// knownPrograms checks that each program exists for the tenant; none is an empty list
// (every program).
func (s *Server) knownPrograms(ctx context.Context, tenant string, programs []string) ([]string, error) {
	if len(programs) == 0 {
		return []string{}, nil
	}
	known, err := s.store.ProgramIDs(ctx, tenant)
	if err != nil {
		return programs, err
	}
	for _, p := range programs {
		if _, ok := known[p]; !ok {
			return programs, badRequest("programs", "program %q does not exist", p)
		}
	}
	return programs, nil
}

// failBudget answers checkBudget's error; its 429 carries Retry-After.
func (s *Server) failBudget(c *gin.Context, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
		c.Header("Retry-After", strconv.Itoa(ae.Details.(map[string]any)["retry_after_seconds"].(int)))
	}
	s.fail(c, err)
}

// preferWait reads RFC 7240's `Prefer: wait=N`.
func preferWait(h string) (time.Duration, error) {
	for _, pref := range strings.Split(h, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(pref), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`))
		if err != nil || n < 0 {
			return 0, badRequest("Prefer", "Prefer: wait= takes a number of seconds")
		}
		return min(time.Duration(n)*time.Second, maxPreferWait), nil
	}
	return 0, nil
}

// checkBudget answers 429 when the tenant cannot afford one more section this period.
// It reads the Postgres mirror of settled spend, not the budget workflow: a query would
// queue behind the workflow's updates, and starting a job must stay fast under load. The
// workflow enforces the budget exactly before every LLM call, so this early refusal only
// needs to be right when the money is spent, which the mirror knows; it reads the mirror
// through a cache at most budgetCheckTTL old (see budgetChecks).
func (s *Server) checkBudget(ctx context.Context, tenant string, in workflows.ReportInput) error {
	b, err := s.budgetChecks.get(ctx, tenant, s.readBudget)
	if err != nil || !b.zoneOK {
		return err // a bad zone fails the job with a clear error; nothing to refuse here
	}
	need := s.prices().CostMicros(in.Model, sectionPromptTokens, in.MaxTokens)
	if b.limit-b.spent >= need {
		return nil
	}
	retry := max(int(time.Until(b.reset).Seconds()), 1)
	return &apiError{Status: http.StatusTooManyRequests, Code: "ai_budget_exhausted",
		Message: fmt.Sprintf("the AI budget for this period is exhausted: $%.2f of $%.2f spent; one more section of %s needs about $%.4f; it resets at %s",
			float64(b.spent)/1e6, float64(b.limit)/1e6, in.Model, float64(need)/1e6, b.reset.Format(time.RFC3339)),
		Details: map[string]any{"limit_dollars": float64(b.limit) / 1e6, "remaining_dollars": float64(b.limit-b.spent) / 1e6,
			"reset_at": b.reset, "retry_after_seconds": retry}}
}

// readBudget reads the tenant's limit, time zone and this period's settled spend.
func (s *Server) readBudget(ctx context.Context, tenant string) (budgetRead, error) {
	settings, tz, err := s.store.TenantAISettings(ctx, tenant)
	if err != nil {
		return budgetRead{}, err
	}
	b := budgetRead{limit: s.limitOf(settings)}
	start, reset, err := budget.Period(time.Now(), tz)
	if err != nil {
		return b, nil
	}
	b.zoneOK, b.reset = true, reset
	b.spent, err = s.store.AISpent(ctx, tenant, start)
	return b, err
}

// budgetCheckTTL is how old the budget figures behind the 429 check at start may be. A
// burst of report starts reads them once a second per tenant instead of twice per request;
// a start let through in that second is stopped by the budget workflow before it spends.
const budgetCheckTTL = time.Second

// budgetRead is what the 429 check knows of a tenant's budget.
type budgetRead struct {
	limit, spent int64
	reset        time.Time
	zoneOK       bool // false: the tenant's time zone is not one we know
	at           time.Time
}

// budgetCache holds each tenant's budgetRead; concurrent misses for a tenant share one read.
type budgetCache struct {
	mu      sync.Mutex
	entries map[string]budgetRead
	flights singleflight.Group
}

func (bc *budgetCache) get(ctx context.Context, tenant string, read func(context.Context, string) (budgetRead, error)) (budgetRead, error) {
	now := time.Now()
	bc.mu.Lock()
	b, ok := bc.entries[tenant]
	bc.mu.Unlock()
	// A new period starts with nothing spent: the cached spend ends with its period.
	if ok && now.Sub(b.at) < budgetCheckTTL && (!b.zoneOK || now.Before(b.reset)) {
		return b, nil
	}
	v, err, _ := bc.flights.Do(tenant, func() (any, error) {
		b, err := read(context.WithoutCancel(ctx), tenant)
		if err != nil {
			return nil, err
		}
		b.at = time.Now()
		bc.mu.Lock()
		if bc.entries == nil || len(bc.entries) > 10000 {
			bc.entries = map[string]budgetRead{}
		}
		bc.entries[tenant] = b
		bc.mu.Unlock()
		return b, nil
	})
	if err != nil {
		return budgetRead{}, err
	}
	return v.(budgetRead), nil
}

func (s *Server) limitOf(settings store.AISettings) int64 {
	if settings.BudgetLimitMicros != nil {
		return *settings.BudgetLimitMicros
	}
	if s.reports.DefaultLimitMicros > 0 {
		return s.reports.DefaultLimitMicros
	}
	return budget.DefaultLimitMicros
}

func (s *Server) prices() llm.Prices {
	if s.reports.Prices.Models == nil {
		return llm.DefaultPrices()
	}
	return s.reports.Prices
}

// budgetStatus queries the tenant's budget workflow; ok is false when it has none yet.
func (s *Server) budgetStatus(ctx context.Context, tenant string) (budget.Status, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, budgetQueryTimeout)
	defer cancel()
	v, err := s.temporal.QueryWorkflow(ctx, budget.WorkflowID(tenant), "", budget.QueryStatus)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return budget.Status{}, false, nil
	}
	if err != nil {
		return budget.Status{}, false, err
	}
	var st budget.Status
	if err := v.Get(&st); err != nil {
		return budget.Status{}, false, err
	}
	return st, true, nil
}

// getReport returns a stored report with its sections, citations and lineage.
func (s *Server) getReport(c *gin.Context) {
	tenant := mustPrincipal(c).TenantID
	r, err := s.store.Report(c.Request.Context(), tenant, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(c, &apiError{Status: http.StatusNotFound, Code: "not_found",
			Message: "no such report; a report job's report appears here when the job completes (see /v1/jobs/" + c.Param("id") + ")"})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, reportView(r))
}

// reportView adds dollar figures and links to a stored report.
func reportView(r store.Report) gin.H {
	v := gin.H{
		"id": r.ID, "status": r.Status, "locale": r.Locale, "period": gin.H{"from": r.PeriodFrom, "to": r.PeriodTo},
		"programs": r.Programs, "sections": r.Sections, "created_at": r.CreatedAt,
		"lineage": r.Lineage, "cost_dollars": float64(r.Lineage.CostMicros) / 1e6,
		"links": gin.H{"self": "/v1/gen-reports/" + r.ID, "job": "/v1/jobs/" + r.ID},
	}
	if r.TextsPurgedAt != nil {
		v["texts_purged_at"] = r.TextsPurgedAt
	}
	return v
}

// costSummary is this period's AI spend: the budget workflow's figures, with the Postgres
// mirror's breakdown per model and per day.
func (s *Server) costSummary(c *gin.Context) {
	ctx := c.Request.Context()
	tenant := mustPrincipal(c).TenantID
	settings, tz, err := s.store.TenantAISettings(ctx, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	st, ok, qerr := s.budgetStatus(ctx, tenant)
	source := "budget_workflow"
	if !ok {
		l, err := budget.New(tenant, s.limitOf(settings), tz, time.Now())
		if err != nil {
			s.fail(c, err)
			return
		}
		st, source = l.Status(time.Now()), "defaults"
		if qerr != nil {
			source = "postgres_mirror" // the workflow could not be read; spend comes from the mirror
		}
	}
	sum, err := s.store.AISpendSummary(ctx, tenant, st.PeriodStart, st.Timezone)
	if err != nil {
		s.fail(c, err)
		return
	}
	if source == "postgres_mirror" {
		for _, m := range sum.PerModel {
			st.SpentMicros += m.CostMicros
		}
		st.RemainingMicros = st.LimitMicros - st.SpentMicros
	}
	dollars := func(lines []store.SpendLine, key string) []gin.H {
		out := []gin.H{}
		for _, l := range lines {
			out = append(out, gin.H{key: l.Key, "calls": l.Calls, "tokens_in": l.TokensIn, "tokens_out": l.TokensOut,
				"cost_dollars": float64(l.CostMicros) / 1e6})
		}
		return out
	}
	c.JSON(http.StatusOK, gin.H{
		"tenant_id": tenant, "period_start": st.PeriodStart, "reset_at": st.ResetAt, "timezone": st.Timezone,
		"limit_dollars": float64(st.LimitMicros) / 1e6, "spent_dollars": float64(st.SpentMicros) / 1e6,
		"reserved_dollars": float64(st.ReservedMicros) / 1e6, "remaining_dollars": float64(st.RemainingMicros) / 1e6,
		"alerts_fired": st.Alerts, "calls": st.Calls, "rejected_reservations": st.Rejected,
		"per_model": dollars(sum.PerModel, "model"), "per_day": dollars(sum.PerDay, "day"),
		"offline": s.reports.Offline, "source": source,
	})
}

// Documentation of the report routes.
var (
	docGenerateReport = operation{Summary: "Start an AI report job (202 with the job; with Prefer: wait=N, 200 with the report when it is done within N seconds; 429 when the AI budget is exhausted)",
		Tag: "reports", Body: "GenerateReportRequest", Headers: []param{
			{Name: "Idempotency-Key", Type: "string", Description: "a retried request with the same key returns the same job instead of starting a second"},
			{Name: "Prefer", Type: "string", Description: "RFC 7240 wait=N (seconds, at most 60): answer 200 with the report if it finishes in time"},
		},
		Responses: map[int]string{200: "Report", 202: "Job", 400: "Error", 401: "Error", 403: "Error", 429: "Error", 503: "Error"}}
	docGetReport   = operation{Summary: "A generated report: sections, paragraphs, citations with the quoted span, lineage", Tag: "reports", Responses: map[int]string{200: "Report", 401: "Error", 404: "Error", 503: "Error"}}
	docCostSummary = operation{Summary: "This period's AI spend, limit, remaining, per model and per day, alerts fired and reset date", Tag: "reports", Responses: map[int]string{200: "CostSummary", 401: "Error", 503: "Error"}}
)

// reportSchemas are the OpenAPI schemas of the report routes.
func reportSchemas() obj {
	dollarLine := func(key string) obj {
		return props(nil, obj{key: str, "calls": integer, "tokens_in": integer, "tokens_out": integer, "cost_dollars": number})
	}
	citation := props(nil, obj{"snippet_id": str, "quote": str})
	paragraph := props(nil, obj{"text": str, "citations": obj{"type": "array", "items": citation}})
	section := props(nil, obj{"section": str, "status": obj{"type": "string", "enum": []string{"written", "citations_failed", "skipped"}},
		"paragraphs": obj{"type": "array", "items": paragraph}, "model": str, "prompt_version": str, "attempts": integer,
		"tokens_in": integer, "tokens_out": integer, "cost_micros": integer, "duration_ms": integer, "coverage": number,
		"problems": obj{"type": "array", "items": str}})
	return obj{
		"GenerateReportRequest": props([]string{"period"}, obj{
			"period":     props([]string{"from", "to"}, obj{"from": obj{"type": "string", "format": "date"}, "to": obj{"type": "string", "format": "date"}}),
			"programs":   obj{"type": "array", "items": str, "description": "program codes; all programs when empty"},
			"sections":   obj{"type": "array", "items": obj{"type": "string", "enum": llm.Sections}, "description": "all four when empty"},
			"locale":     obj{"type": "string", "enum": llm.Locales, "description": "the tenant's default locale when empty"},
			"model":      obj{"type": "string", "description": "LLM_MODEL when empty; ignored by the offline writer"},
			"max_tokens": obj{"type": "integer", "minimum": 64, "maximum": 8192, "description": "per section; 800 when empty"},
		}),
		"Report": props(nil, obj{"id": str, "status": obj{"type": "string", "enum": []string{"completed", "citations_failed", "budget_exhausted"}},
			"locale": str, "period": props(nil, obj{"from": str, "to": str}), "programs": obj{"type": "array", "items": str},
			"sections": obj{"type": "array", "items": section}, "cost_dollars": number, "created_at": stamp,
			"texts_purged_at": obj{"type": "string", "format": "date-time", "description": "set when retention deleted the sections"},
			"lineage": props(nil, obj{"model": str, "offline": boolean, "prompt_version": str, "tokens_in": integer, "tokens_out": integer,
				"cost_micros": integer, "duration_ms": integer, "coverage": number, "names_restored": boolean, "redactions": anyObj,
				"metrics": obj{"type": "array", "items": anyObj}, "workflow_id": str, "run_id": str}),
			"links": props(nil, obj{"self": str, "job": str})}),
		"CostSummary": props(nil, obj{"tenant_id": str, "period_start": stamp, "reset_at": stamp, "timezone": str,
			"limit_dollars": number, "spent_dollars": number, "reserved_dollars": number, "remaining_dollars": number,
			"alerts_fired": obj{"type": "array", "items": integer}, "calls": integer, "rejected_reservations": integer,
			"per_model": obj{"type": "array", "items": dollarLine("model")}, "per_day": obj{"type": "array", "items": dollarLine("day")},
			"offline": boolean, "source": obj{"type": "string", "enum": []string{"budget_workflow", "defaults", "postgres_mirror"}}}),
	}
}
