package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"go.temporal.io/sdk/activity"

	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/redact"
	"github.com/impactflow/impactflow/internal/store"
)

// SectionOutcome is one section as the workflow finished it (redacted text).
type SectionOutcome struct {
	Section       string          `json:"section"`
	Status        string          `json:"status"` // written | citations_failed | skipped
	Paragraphs    []llm.Paragraph `json:"paragraphs"`
	Problems      []string        `json:"problems,omitempty"`
	Model         string          `json:"model"`
	PromptVersion string          `json:"prompt_version"`
	Attempts      int             `json:"attempts"`
	TokensIn      int             `json:"tokens_in"`
	TokensOut     int             `json:"tokens_out"`
	CostMicros    int64           `json:"cost_micros"`
	DurationMS    int64           `json:"duration_ms"`
	Coverage      float64         `json:"coverage"`
}

// PersistInput is the whole report, redacted, with what it took to make it.
type PersistInput struct {
	ReportID    string              `json:"report_id"`
	TenantID    string              `json:"tenant_id"`
	Status      string              `json:"status"`
	Locale      string              `json:"locale"`
	From        string              `json:"from"`
	To          string              `json:"to"`
	Programs    []string            `json:"programs"`
	Model       string              `json:"model"`
	Offline     bool                `json:"offline"`
	Evidence    []store.EvidenceRef `json:"evidence"`
	Fingerprint string              `json:"fingerprint"`
	Redactions  map[string]int      `json:"redactions"`
	Metrics     []llm.Metric        `json:"metrics"`
	Sections    []SectionOutcome    `json:"sections"`
	DurationMS  int64               `json:"duration_ms"`
}

// PersistResult says whether this call wrote the report (false: it was already stored).
type PersistResult struct {
	Saved         bool `json:"saved"`
	NamesRestored bool `json:"names_restored"`
}

// PersistReport writes the report's lineage, sections and citations, idempotently. Where
// the tenant allows it, people's names are put back in the text: the placeholder mapping
// is rebuilt here from the same evidence, in the same order, and used only when its
// fingerprint matches the one Redact made (evidence edited in between keeps placeholders).
func (a *Activities) PersistReport(ctx context.Context, in PersistInput) (PersistResult, error) {
	info := activity.GetInfo(ctx)
	settings, _, err := a.Store.TenantAISettings(ctx, in.TenantID)
	if err != nil {
		return PersistResult{}, fmt.Errorf("tenant AI settings: %w", err)
	}
	restore := !a.Aggressive
	if settings.RestoreNames != nil {
		restore = *settings.RestoreNames
	}
	sess, snippets, fp, err := a.redactEvidenceWith(ctx, in.TenantID, settings, in.Evidence)
	if err != nil {
		return PersistResult{}, err
	}
	if fp != in.Fingerprint {
		restore = false
	}
	unredact := func(s string) string {
		if restore {
			return sess.Restore(s, redact.KindPerson)
		}
		return s
	}
	texts := make(map[string]string, len(snippets))
	for _, s := range snippets {
		texts[s.ID] = s.Text
	}

	r := store.Report{
		ID: in.ReportID, TenantID: in.TenantID, Status: in.Status, Locale: in.Locale,
		PeriodFrom: in.From, PeriodTo: in.To, Programs: in.Programs,
	}
	l := &r.Lineage
	l.Model, l.Offline, l.PromptVersion = in.Model, in.Offline, llm.PromptVersion
	l.DurationMS, l.NamesRestored, l.Redactions = in.DurationMS, restore, in.Redactions
	l.WorkflowID, l.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	l.Metrics, _ = json.Marshal(in.Metrics)
	var paragraphs, cited int
	for _, sec := range in.Sections {
		out := store.ReportSection{
			Section: sec.Section, Status: sec.Status, Model: sec.Model, PromptVersion: sec.PromptVersion,
			Attempts: sec.Attempts, TokensIn: sec.TokensIn, TokensOut: sec.TokensOut, CostMicros: sec.CostMicros,
			DurationMS: sec.DurationMS, Coverage: sec.Coverage, Problems: sec.Problems, Paragraphs: []store.ReportParagraph{},
		}
		if out.PromptVersion == "" {
			out.PromptVersion = llm.PromptVersion
		}
		for _, p := range sec.Paragraphs {
			rp := store.ReportParagraph{Text: unredact(p.Text), Citations: []store.Citation{}}
			for _, id := range p.Citations {
				rp.Citations = append(rp.Citations, store.Citation{SnippetID: id, Quote: unredact(quote(texts[id], p.Text))})
			}
			paragraphs++
			if len(rp.Citations) > 0 {
				cited++
			}
			out.Paragraphs = append(out.Paragraphs, rp)
		}
		l.TokensIn += sec.TokensIn
		l.TokensOut += sec.TokensOut
		l.CostMicros += sec.CostMicros
		r.Sections = append(r.Sections, out)
	}
	if paragraphs > 0 {
		l.Coverage = float64(cited) / float64(paragraphs)
	}
	saved, err := a.Store.SaveReport(ctx, r)
	if err != nil {
		return PersistResult{}, fmt.Errorf("save report: %w", err)
	}
	return PersistResult{Saved: saved, NamesRestored: restore}, nil
}

// quote picks the sentence of the snippet that shares the most words with the paragraph
// citing it: the span the paragraph relies on.
func quote(snippet, paragraph string) string {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(paragraph), notWord) {
		if len([]rune(w)) > 3 {
			words[w] = true
		}
	}
	best, bestScore := "", -1
	for _, s := range sentences(snippet) {
		score := 0
		for _, w := range strings.FieldsFunc(strings.ToLower(s), notWord) {
			if words[w] {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = s, score
		}
	}
	return best
}

func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

func sentences(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if r == '.' || r == '!' || r == '?' {
			if t := strings.TrimSpace(s[start : i+1]); t != "" {
				out = append(out, t)
			}
			start = i + 1
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}
