package llm

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/impactflow/impactflow/internal/sandbox/openai"
)

func TestCheckClassification(t *testing.T) {
	ids := []string{"s-1", "s-2"}
	cases := []struct {
		name, text string
		problem    string // a substring of the problems; empty means the answer passes
	}{
		{"valid", `{"items":[{"id":"s-1","labels":[{"dimension":"confidence","score":0.8},{"dimension":"wellbeing","score":1}]},{"id":"s-2","labels":[]}]}`, ""},
		{"not json", `the snippets show confidence`, "not the JSON object"},
		{"unknown field", `{"items":[],"extra":1}`, "not the JSON object"},
		{"unknown dimension", `{"items":[{"id":"s-1","labels":[{"dimension":"happiness","score":0.5}]},{"id":"s-2","labels":[]}]}`, `unknown dimension "happiness"`},
		{"score above 1", `{"items":[{"id":"s-1","labels":[{"dimension":"language","score":4}]},{"id":"s-2","labels":[]}]}`, "outside 0 to 1"},
		{"negative score", `{"items":[{"id":"s-1","labels":[{"dimension":"language","score":-0.1}]},{"id":"s-2","labels":[]}]}`, "outside 0 to 1"},
		{"missing snippet", `{"items":[{"id":"s-1","labels":[]}]}`, "snippet s-2 is missing"},
		{"unknown snippet", `{"items":[{"id":"s-1","labels":[]},{"id":"s-2","labels":[]},{"id":"s-9","labels":[]}]}`, `"s-9", which is not one of`},
		{"duplicate snippet", `{"items":[{"id":"s-1","labels":[]},{"id":"s-1","labels":[]},{"id":"s-2","labels":[]}]}`, "more than once"},
		{"duplicate dimension", `{"items":[{"id":"s-1","labels":[{"dimension":"belonging","score":0.2},{"dimension":"belonging","score":0.3}]},{"id":"s-2","labels":[]}]}`, "given more than once"},
		{"no id", `{"items":[{"labels":[]},{"id":"s-1","labels":[]},{"id":"s-2","labels":[]}]}`, "has no id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, problems := CheckClassification(c.text, ids)
			if c.problem == "" {
				if len(problems) > 0 || len(got) != 2 {
					t.Fatalf("want a pass, got %v problems %v", got, problems)
				}
				if got[0].SnippetID != "s-1" || len(got[0].Labels) != 2 || got[0].Labels[0].Score != 0.8 || got[1].Labels == nil {
					t.Fatalf("labels = %+v", got)
				}
				return
			}
			if got != nil || !strings.Contains(strings.Join(problems, "\n"), c.problem) {
				t.Fatalf("want a problem with %q, got %v (labels %v)", c.problem, problems, got)
			}
		})
	}
}

func TestOfflineLabels(t *testing.T) {
	cases := []struct {
		text string
		want map[string]float64
	}{
		{"I feel confident now and I got a job interview next week.", map[string]float64{DimConfidence: 0.75, DimJobReadiness: 1}},
		{"Ahora tengo más confianza y hablo mejor el idioma.", map[string]float64{DimConfidence: 0.75, DimLanguage: 0.75, DimWellbeing: 0.75}},
		{"Je me sens moins seul, j'ai trouvé une communauté et des amis.", map[string]float64{DimBelonging: 0.75}},
		{"Constant stress and anxiety, I was tired all the time.", map[string]float64{DimWellbeing: 0}},
		{"The bus was late on Tuesday.", map[string]float64{}},
	}
	for _, c := range cases {
		got := map[string]float64{}
		for _, l := range OfflineLabels(c.text) {
			got[l.Dimension] = l.Score
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: labels %v, want %v", c.text, got, c.want)
			continue
		}
		for d, s := range c.want {
			if got[d] != s {
				t.Errorf("%q: %s = %v, want %v (all %v)", c.text, d, got[d], s, got)
			}
		}
	}
}

func TestOfflineClassifyPassesCheck(t *testing.T) {
	req := ClassifyRequest{Snippets: []Snippet{{ID: "a", Text: "Me siento más segura de mí misma"}, {ID: "b", Text: "nothing here"}}}
	c, ok := ClassifierFor(Offline{})
	if !ok || !c.Offline() {
		t.Fatal("the offline writer should classify offline")
	}
	resp, err := c.Classify(context.Background(), req)
	if err != nil || resp.CostMicros != 0 || resp.Model != OfflineClassifierModel || !resp.Offline {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	got, problems := CheckClassification(resp.Text, []string{"a", "b"})
	if len(problems) > 0 {
		t.Fatalf("problems %v", problems)
	}
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"confidence"`) {
		t.Fatalf("labels %s", b)
	}
}

func TestOpenAIClassifyAgainstSandbox(t *testing.T) {
	sb := openai.New("sk-test")
	srv := httptest.NewServer(sb)
	defer srv.Close()
	c, ok := ClassifierFor(NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Model: "gpt-4o-mini", Prices: DefaultPrices()}))
	if !ok || c.Offline() {
		t.Fatal("the OpenAI writer classifies with the model")
	}
	req := ClassifyRequest{Snippets: testSnippets, MaxTokens: 300}
	ids := make([]string, len(testSnippets))
	for i, s := range testSnippets {
		ids[i] = s.ID
	}
	resp, err := c.Classify(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// The sandbox answers a JSON-mode request with a classification: the request asked for one.
	if _, problems := CheckClassification(resp.Text, ids); len(problems) > 0 {
		t.Fatalf("sandbox answer %q: %v", resp.Text, problems)
	}
	if resp.TokensIn == 0 || resp.CostMicros == 0 || resp.Model != "gpt-4o-mini" || resp.PromptVersion != ClassifyPromptVersion || resp.Offline {
		t.Errorf("usage not recorded: %+v", resp)
	}
	if !strings.Contains(sb.Prompts()[0], "job_readiness") {
		t.Errorf("the prompt does not name the dimensions: %s", sb.Prompts()[0])
	}
	sb.Enqueue(openai.Reply{Status: 400, Message: "context too long"})
	if _, err := c.Classify(context.Background(), req); err == nil {
		t.Error("a 400 must fail")
	} else if pe, ok := AsProviderError(err); !ok || pe.Status != 400 || pe.Retryable() {
		t.Errorf("400: %v", err)
	}
}
