package llm

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/sandbox/openai"
)

var testSnippets = []Snippet{
	{ID: "s-1", Source: "survey", Text: "I feel much more confident at interviews now. [PERSON_1] helped me a lot."},
	{ID: "s-2", Source: "interview", Text: "She completed eight sessions and found a job. Her mentor was proud."},
	{ID: "s-3", Source: "case_note", Text: "Attendance improved after the evening sessions started."},
}

var testMetrics = []Metric{{Key: "participants", Label: "Participants", Value: 120}, {Key: "volunteer_hours", Label: "Volunteer hours", Value: 410.5}}

func known() map[string]bool { return map[string]bool{"s-1": true, "s-2": true, "s-3": true} }

func TestCheckCitations(t *testing.T) {
	for _, tc := range []struct {
		name     string
		text     string
		problems int
		coverage float64
	}{
		{"all cited", "One [cite:s-1].\n\nTwo [cite:s-2][cite:s-3].", 0, 1},
		{"one uncited", "One [cite:s-1].\n\nTwo without.", 1, 0.5},
		{"unknown id", "One [cite:s-9].", 2, 0},
		{"heading ignored", "# Summary\n\nOne [cite: s-1 ].", 0, 1},
		{"empty", "  ", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CheckCitations(tc.text, known())
			if len(c.Problems) != tc.problems || c.Coverage != tc.coverage {
				t.Errorf("problems %q coverage %v", c.Problems, c.Coverage)
			}
			for _, p := range c.Paragraphs {
				if strings.Contains(p.Text, "[cite") {
					t.Errorf("marker left in %q", p.Text)
				}
			}
		})
	}
}

func TestOfflineWritesCitedSectionsInEveryLocale(t *testing.T) {
	for _, loc := range Locales {
		for _, sec := range Sections {
			resp, err := Offline{}.Write(context.Background(), Request{Section: sec, Locale: loc, Period: "2024-06", Metrics: testMetrics, Snippets: testSnippets})
			if err != nil {
				t.Fatalf("%s/%s: %v", loc, sec, err)
			}
			c := CheckCitations(resp.Text, known())
			if len(c.Problems) > 0 || c.Coverage != 1 {
				t.Errorf("%s/%s: %q: %v", loc, sec, resp.Text, c.Problems)
			}
			if !resp.Offline || resp.CostMicros != 0 || resp.Model != OfflineModel {
				t.Errorf("%s/%s: lineage %+v", loc, sec, resp)
			}
		}
	}
}

func TestPromptsPerLocale(t *testing.T) {
	want := map[string]string{"en": "Every paragraph must cite", "es": "Cada párrafo debe citar", "fr": "Chaque paragraphe doit citer"}
	for loc, phrase := range want {
		sys, user, err := Messages(Request{Section: SectionOutcomes, Locale: loc, Period: "Q2 2024", Metrics: testMetrics, Snippets: testSnippets, Problems: []string{"paragraph 2 cites no evidence"}})
		if err != nil {
			t.Fatal(err)
		}
		if sys == "" || !strings.Contains(user, phrase) || !strings.Contains(user, "[cite:ID]") || !strings.Contains(user, "- s-2 (interview)") || !strings.Contains(user, "paragraph 2 cites no evidence") || !strings.Contains(user, "Q2 2024") {
			t.Errorf("%s prompt: %s", loc, user)
		}
	}
	if _, _, err := Messages(Request{Section: SectionSummary, Locale: "de"}); err == nil {
		t.Error("German has no templates; want an error")
	}
}

func TestOpenAIAgainstSandbox(t *testing.T) {
	sb := openai.New("sk-test")
	srv := httptest.NewServer(sb)
	defer srv.Close()
	w := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Model: "gpt-4o-mini", Prices: DefaultPrices()})
	req := Request{Section: SectionSummary, Locale: "fr", Period: "2024", Metrics: testMetrics, Snippets: testSnippets}
	ctx := context.Background()

	resp, err := w.Write(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if c := CheckCitations(resp.Text, known()); len(c.Problems) > 0 {
		t.Errorf("sandbox answer fails the check: %v", c.Problems)
	}
	if resp.TokensIn == 0 || resp.TokensOut == 0 || resp.CostMicros == 0 || resp.Model != "gpt-4o-mini" || resp.PromptVersion != PromptVersion {
		t.Errorf("usage not recorded: %+v", resp)
	}
	if want := DefaultPrices().CostMicros("gpt-4o-mini", resp.TokensIn, resp.TokensOut); resp.CostMicros != want {
		t.Errorf("cost %d, want %d", resp.CostMicros, want)
	}

	sb.Enqueue(openai.Reply{Status: 429, RetryAfter: "3"}, openai.Reply{Status: 503}, openai.Reply{Status: 400, Message: "context too long"})
	for _, want := range []struct {
		status     int
		retryable  bool
		retryAfter time.Duration
	}{{429, true, 3 * time.Second}, {503, true, 0}, {400, false, 0}} {
		_, err := w.Write(ctx, req)
		pe, ok := AsProviderError(err)
		if !ok || pe.Status != want.status || pe.Retryable() != want.retryable || pe.RetryAfter != want.retryAfter {
			t.Errorf("got %#v, want status %d retryable %v retry-after %v", err, want.status, want.retryable, want.retryAfter)
		}
	}
	bad := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", APIKey: "wrong", Model: "gpt-4o-mini", Prices: DefaultPrices()})
	if _, err := bad.Write(ctx, req); err == nil {
		t.Error("a wrong key must fail")
	} else if pe, _ := AsProviderError(err); pe == nil || pe.Status != 401 || pe.Retryable() {
		t.Errorf("wrong key: %v", err)
	}
}

func TestPrices(t *testing.T) {
	p, err := ParsePrices("my-model=1/2, *=10/20")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.CostMicros("my-model", 1000, 500); got != 2000 {
		t.Errorf("my-model cost %d", got)
	}
	if got := p.CostMicros("unknown", 1, 1); got != 30 {
		t.Errorf("default cost %d", got)
	}
	if got := p.CostMicros("gpt-4o-mini", 1, 0); got != 1 {
		t.Errorf("rounding up: %d", got)
	}
	if _, err := ParsePrices("nonsense"); err == nil {
		t.Error("want an error")
	}
}
