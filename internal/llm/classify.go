package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// The outcome dimensions the classifier labels evidence with.
const (
	DimConfidence   = "confidence"
	DimBelonging    = "belonging"
	DimLanguage     = "language"
	DimJobReadiness = "job_readiness"
	DimWellbeing    = "wellbeing"
)

// Dimensions lists every outcome dimension.
var Dimensions = []string{DimConfidence, DimBelonging, DimLanguage, DimJobReadiness, DimWellbeing}

// ClassifyPromptVersion names the classification prompt; it is stored with the labels.
const ClassifyPromptVersion = "classify-v1"

// Label is one outcome dimension a snippet speaks to, with a score from 0 (the snippet
// shows the outcome absent or getting worse) through 0.5 (neutral, mentioned) to 1 (a
// strong, positive change on that dimension).
type Label struct {
	Dimension string  `json:"dimension"`
	Score     float64 `json:"score"`
}

// Classification is the labels of one snippet; Labels may be empty when the snippet speaks
// to none of the dimensions.
type Classification struct {
	SnippetID string  `json:"id"`
	Labels    []Label `json:"labels"`
}

// ClassifyRequest asks for the labels of a batch of snippets (texts already redacted).
type ClassifyRequest struct {
	Model     string    `json:"model"`
	MaxTokens int       `json:"max_tokens"`
	Snippets  []Snippet `json:"snippets"`
	// Problems lists what was wrong with the previous answer, when the batch is re-asked.
	Problems []string `json:"problems,omitempty"`
}

// ClassifyResponse is the model's raw answer (a JSON document, checked with
// CheckClassification) and what it cost: the same fields as a written section's Response.
type ClassifyResponse = Response

// Classifier labels evidence snippets with outcome dimensions.
type Classifier interface {
	Classify(ctx context.Context, req ClassifyRequest) (ClassifyResponse, error)
	// Offline reports whether the classifier runs without a model (and costs nothing).
	Offline() bool
}

// ClassifierFor returns the classifier that goes with a writer: the writer itself when it
// classifies too (the OpenAI writer does), the offline lexicon classifier when the writer
// is offline, and false otherwise.
func ClassifierFor(w Writer) (Classifier, bool) {
	if c, ok := w.(Classifier); ok {
		return c, true
	}
	if w == nil || w.Offline() {
		return Offline{}, true
	}
	return nil, false
}

// CheckClassification parses a classification answer strictly: a JSON object
// {"items":[{"id":..., "labels":[{"dimension":..., "score":...}]}]} with exactly one item
// per snippet in ids, known dimensions only, each at most once, and scores in [0, 1].
// Problems are worded for the model, to be sent back when the batch is re-asked.
func CheckClassification(text string, ids []string) ([]Classification, []string) {
	var doc struct {
		Items []Classification `json:"items"`
	}
	dec := json.NewDecoder(strings.NewReader(strings.TrimSpace(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, []string{fmt.Sprintf(`the answer is not the JSON object asked for ({"items":[{"id":"...","labels":[{"dimension":"...","score":0.0}]}]}): %v`, err)}
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var problems []string
	seen := map[string]bool{}
	var out []Classification
	for i, item := range doc.Items {
		switch {
		case item.SnippetID == "":
			problems = append(problems, fmt.Sprintf("item %d has no id", i+1))
			continue
		case !want[item.SnippetID]:
			problems = append(problems, fmt.Sprintf("item %d labels %q, which is not one of the snippets given", i+1, item.SnippetID))
			continue
		case seen[item.SnippetID]:
			problems = append(problems, fmt.Sprintf("snippet %s is labelled more than once", item.SnippetID))
			continue
		}
		seen[item.SnippetID] = true
		dims := map[string]bool{}
		ok := true
		for _, l := range item.Labels {
			switch {
			case !slices.Contains(Dimensions, l.Dimension):
				problems = append(problems, fmt.Sprintf("snippet %s: unknown dimension %q (use only %s)", item.SnippetID, l.Dimension, strings.Join(Dimensions, ", ")))
				ok = false
			case dims[l.Dimension]:
				problems = append(problems, fmt.Sprintf("snippet %s: dimension %s is given more than once", item.SnippetID, l.Dimension))
				ok = false
			case math.IsNaN(l.Score) || l.Score < 0 || l.Score > 1:
				problems = append(problems, fmt.Sprintf("snippet %s: score %v for %s is outside 0 to 1", item.SnippetID, l.Score, l.Dimension))
				ok = false
			}
			dims[l.Dimension] = true
		}
		if ok {
			if item.Labels == nil {
				item.Labels = []Label{}
			}
			out = append(out, item)
		}
	}
	for _, id := range ids {
		if !seen[id] {
			problems = append(problems, fmt.Sprintf("snippet %s is missing from the answer", id))
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

const classifySystem = "You label evidence from corporate social responsibility programs with outcome dimensions. " +
	"The dimensions are: confidence (self-belief, agency), belonging (connection, community, inclusion), " +
	"language (skills in the language of the host country or workplace), job_readiness (skills, CVs, interviews, work), " +
	"wellbeing (mental and physical health, stress, happiness). " +
	"For each snippet give every dimension it speaks to (none, one or several) with a score from 0 to 1: " +
	"0 means the outcome is clearly absent or got worse, 0.5 neutral or merely mentioned, 1 a strong positive change. " +
	"Placeholders such as [PERSON_1] stand for redacted personal data. The snippets may be in any language. " +
	`Answer with one JSON object only: {"items":[{"id":"<snippet id>","labels":[{"dimension":"<dimension>","score":<0..1>}]}]}, ` +
	"with exactly one item per snippet, using the IDs given."

// ClassifyMessages builds the system and user messages for a batch.
func ClassifyMessages(req ClassifyRequest) (system, user string) {
	var b strings.Builder
	b.WriteString("Snippets:\n")
	for _, s := range req.Snippets {
		fmt.Fprintf(&b, "- %s (%s): %s\n", s.ID, s.Source, strings.Join(strings.Fields(s.Text), " "))
	}
	if len(req.Problems) > 0 {
		b.WriteString("\nYour previous answer had these problems; fix them:\n")
		for _, p := range req.Problems {
			b.WriteString("- " + p + "\n")
		}
	}
	return classifySystem, b.String()
}

// Classify asks the model for the labels of a batch, in JSON mode. The answer is returned
// as it came; CheckClassification decides whether it can be used. Errors are
// *ProviderError, as for Write.
func (w *OpenAI) Classify(ctx context.Context, req ClassifyRequest) (ClassifyResponse, error) {
	if len(req.Snippets) == 0 {
		return ClassifyResponse{}, &ProviderError{Status: http.StatusBadRequest, Message: "no snippets to classify"}
	}
	system, user := ClassifyMessages(req)
	return w.complete(ctx, openai.ChatCompletionRequest{
		Model:          req.Model,
		MaxTokens:      req.MaxTokens,
		Temperature:    0,
		ResponseFormat: &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject},
	}, system, user, ClassifyPromptVersion)
}

// OfflineClassifierModel is the model name the offline classifier records on the snippets
// it labels.
const OfflineClassifierModel = "offline-lexicon"

// offlineLexicon holds, per dimension, word stems in English, Spanish and French that
// signal it positively, and stems that signal its absence. A stem matches a word it begins.
var offlineLexicon = map[string]struct{ pos, neg []string }{
	DimConfidence: {
		pos: []string{"confident", "confidence", "self-esteem", "believe in myself", "proud", "empower", "capable",
			"confianza", "seguro de mí", "segura de mí", "orgullos", "autoestima", "capaz",
			"confiance", "fier", "fière", "estime de soi", "capable"},
		neg: []string{"insecure", "afraid", "doubt", "insegur", "miedo", "dudas", "peur", "doute"},
	},
	DimBelonging: {
		pos: []string{"belong", "community", "friends", "welcome", "included", "connected", "team",
			"pertenen", "comunidad", "amig", "acogid", "incluid", "equipo",
			"appartenance", "communauté", "amis", "amies", "accueilli", "inclus", "équipe", "lien"},
		neg: []string{"lonely", "isolated", "alone", "excluded", "solo", "sola", "aislad", "excluid", "seul", "isolé", "exclu"},
	},
	DimLanguage: {
		pos: []string{"english", "language", "speak", "fluent", "vocabulary", "conversation",
			"idioma", "lengua", "hablar", "español", "inglés", "vocabulario",
			"langue", "français", "parler", "vocabulaire", "anglais"},
		neg: []string{"can't speak", "cannot speak", "no hablo", "ne parle pas"},
	},
	DimJobReadiness: {
		pos: []string{"job", "interview", "cv", "resume", "résumé", "hired", "employ", "work", "career", "skills",
			"trabajo", "empleo", "entrevista", "currículum", "contratad", "habilidades",
			"emploi", "travail", "entretien", "embauch", "compétences", "métier"},
		neg: []string{"unemployed", "rejected", "desemplead", "rechazad", "chômage", "refusé"},
	},
	DimWellbeing: {
		pos: []string{"happy", "happier", "wellbeing", "well-being", "healthy", "calm", "relaxed", "better",
			"feliz", "bienestar", "salud", "tranquil", "mejor",
			"heureux", "heureuse", "bien-être", "santé", "serein", "mieux"},
		neg: []string{"stress", "anxious", "anxiety", "depress", "tired", "ansiedad", "estrés", "cansad", "angoisse", "fatigué", "anxieux"},
	},
}

// Classify labels each snippet from a lexicon of English, Spanish and French word stems: a
// dimension is given when one of its stems occurs, scored 0.5 plus 0.25 per positive stem
// and minus 0.25 per negative one, clamped to [0, 1]. Deterministic, free, and named as
// what it is (OfflineClassifierModel).
func (Offline) Classify(_ context.Context, req ClassifyRequest) (ClassifyResponse, error) {
	start := time.Now()
	if len(req.Snippets) == 0 {
		return ClassifyResponse{}, &ProviderError{Status: http.StatusBadRequest, Message: "no snippets to classify"}
	}
	var doc struct {
		Items []Classification `json:"items"`
	}
	for _, s := range req.Snippets {
		doc.Items = append(doc.Items, Classification{SnippetID: s.ID, Labels: OfflineLabels(s.Text)})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return ClassifyResponse{}, err
	}
	return ClassifyResponse{Text: string(b), Model: OfflineClassifierModel, PromptVersion: ClassifyPromptVersion,
		Offline: true, Duration: time.Since(start)}, nil
}

// OfflineLabels is the offline classifier's labels for one text, in Dimensions order.
func OfflineLabels(text string) []Label {
	words := " " + strings.Join(strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r == '-' || r == '\'' || r == '’' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127)
	}), " ")
	count := func(stems []string) int {
		n := 0
		for _, s := range stems {
			if strings.Contains(words, " "+s) {
				n++
			}
		}
		return n
	}
	labels := []Label{}
	for _, d := range Dimensions {
		lex := offlineLexicon[d]
		pos, neg := count(lex.pos), count(lex.neg)
		if pos+neg == 0 {
			continue
		}
		score := 0.5 + 0.25*float64(pos) - 0.25*float64(neg)
		labels = append(labels, Label{Dimension: d, Score: math.Max(0, math.Min(1, score))})
	}
	return labels
}
