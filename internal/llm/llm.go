// Package llm writes report sections with a language model, or without one: a Writer takes
// a section's redacted evidence and metrics and returns text whose paragraphs cite the
// evidence with a fixed marker, [cite:<snippet id>]. The OpenAI writer talks to any
// OpenAI-compatible API through go-openai; the offline writer builds the section from the
// evidence itself, at no cost, when no API key is configured.
package llm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The sections a report can have.
const (
	SectionSummary         = "summary"
	SectionOutcomes        = "outcomes"
	SectionStories         = "participant_stories"
	SectionRecommendations = "recommendations"
)

// Sections lists every section, in report order.
var Sections = []string{SectionSummary, SectionOutcomes, SectionStories, SectionRecommendations}

// Locales lists the report languages; each has its own prompt templates.
var Locales = []string{"en", "es", "fr"}

// Metric is one figure of the period, e.g. {"volunteer_hours", "Volunteer hours", 4210}.
type Metric struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// Snippet is one piece of evidence a section may cite; Text is already redacted.
type Snippet struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Text   string `json:"text"`
}

// Request asks for one section.
type Request struct {
	Section   string    `json:"section"`
	Locale    string    `json:"locale"`
	Model     string    `json:"model"`
	MaxTokens int       `json:"max_tokens"`
	Period    string    `json:"period"`
	Metrics   []Metric  `json:"metrics"`
	Snippets  []Snippet `json:"snippets"`
	// Problems lists what was wrong with the previous answer, when the section is re-asked.
	Problems []string `json:"problems,omitempty"`
}

// Response is a written section and what it cost.
type Response struct {
	Text          string        `json:"text"`
	Model         string        `json:"model"`
	PromptVersion string        `json:"prompt_version"`
	TokensIn      int           `json:"tokens_in"`
	TokensOut     int           `json:"tokens_out"`
	CostMicros    int64         `json:"cost_micros"`
	Offline       bool          `json:"offline"`
	Duration      time.Duration `json:"duration"`
}

// Writer writes one report section.
type Writer interface {
	Write(ctx context.Context, req Request) (Response, error)
	// Offline reports whether the writer runs without a model (and costs nothing).
	Offline() bool
}

// ProviderError is a failed call to the model's API.
type ProviderError struct {
	Status     int           // HTTP status; 0 when the request did not get an answer
	RetryAfter time.Duration // the provider's Retry-After, when it sent one
	Message    string
}

func (e *ProviderError) Error() string {
	if e.Status == 0 {
		return "llm provider: " + e.Message
	}
	return fmt.Sprintf("llm provider: status %d: %s", e.Status, e.Message)
}

// Retryable reports whether trying again later can succeed: rate limits, server errors
// and transport failures can; a bad request (prompt too long, unknown model) cannot.
func (e *ProviderError) Retryable() bool {
	return e.Status == 0 || e.Status == 408 || e.Status == 409 || e.Status == 429 || e.Status >= 500
}

// AsProviderError returns err's ProviderError, if it has one.
func AsProviderError(err error) (*ProviderError, bool) {
	var pe *ProviderError
	ok := errors.As(err, &pe)
	return pe, ok
}

// reCite is the citation marker format every prompt asks for.
var reCite = regexp.MustCompile(`\[cite:\s*([A-Za-z0-9][A-Za-z0-9._:\-]{0,127})\s*\]`)

// Cite returns the citation marker for a snippet.
func Cite(id string) string { return "[cite:" + id + "]" }

// Paragraph is one paragraph of a section, with the snippet IDs it cites (markers removed
// from Text).
type Paragraph struct {
	Text      string   `json:"text"`
	Citations []string `json:"citations"`
}

// Check is the outcome of checking a section's citations against the gathered evidence.
type Check struct {
	Paragraphs []Paragraph `json:"paragraphs"`
	// Problems says, per failing paragraph, what is wrong; empty when the section passes.
	Problems []string `json:"problems,omitempty"`
	// Coverage is the share of paragraphs with at least one valid citation.
	Coverage float64 `json:"coverage"`
}

// CheckCitations splits text into paragraphs and checks that each cites at least one
// snippet among known. Unknown IDs are dropped from a paragraph's citations and reported.
func CheckCitations(text string, known map[string]bool) Check {
	var c Check
	valid := 0
	for i, raw := range splitParagraphs(text) {
		p := Paragraph{Citations: []string{}}
		var unknown []string
		seen := map[string]bool{}
		for _, m := range reCite.FindAllStringSubmatch(raw, -1) {
			id := m[1]
			switch {
			case !known[id]:
				unknown = append(unknown, id)
			case !seen[id]:
				seen[id] = true
				p.Citations = append(p.Citations, id)
			}
		}
		p.Text = strings.Join(strings.Fields(reCite.ReplaceAllString(raw, "")), " ")
		p.Text = strings.NewReplacer(" .", ".", " ,", ",", " ;", ";").Replace(p.Text)
		if len(unknown) > 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("paragraph %d cites evidence that does not exist: %s", i+1, strings.Join(unknown, ", ")))
		}
		if len(p.Citations) == 0 {
			c.Problems = append(c.Problems, fmt.Sprintf("paragraph %d cites no evidence; add at least one %s marker", i+1, Cite("<id>")))
		} else {
			valid++
		}
		c.Paragraphs = append(c.Paragraphs, p)
	}
	if len(c.Paragraphs) == 0 {
		c.Problems = append(c.Problems, "the section is empty")
		return c
	}
	c.Coverage = float64(valid) / float64(len(c.Paragraphs))
	return c
}

// splitParagraphs splits on blank lines and drops headings (lines starting with #).
func splitParagraphs(text string) []string {
	var out []string
	for _, block := range regexp.MustCompile(`\n\s*\n`).Split(strings.ReplaceAll(text, "\r\n", "\n"), -1) {
		var lines []string
		for _, l := range strings.Split(block, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				lines = append(lines, t)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, " "))
		}
	}
	return out
}

// EstimateTokens approximates the tokens of text (about four characters a token), for
// budget reservations made before a call; the provider's usage figures settle them.
func EstimateTokens(text string) int { return len(text)/4 + 1 }
