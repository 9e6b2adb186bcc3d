package llm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OfflineModel is the model name the offline writer records in lineage.
const OfflineModel = "offline-extractive"

// Offline writes sections without a model: each paragraph states the period's figures or
// quotes the evidence, and cites the snippet it quotes. It is deterministic, free, and
// honest about what it is (Response.Offline, the model name in lineage).
type Offline struct{}

// Offline is true.
func (Offline) Offline() bool { return true }

type offlineWords struct {
	figures, quote, stories, recommend, noFigures string
}

var offlineText = map[string]offlineWords{
	"en": {figures: "In %s the programs recorded: %s.", quote: "As one %s put it: “%s”",
		stories: "From a %s: “%s”", recommend: "The evidence points to what to keep and build on: “%s”", noFigures: "no figures"},
	"es": {figures: "En %s los programas registraron: %s.", quote: "Como se recoge en una evidencia (%s): «%s»",
		stories: "De una evidencia (%s): «%s»", recommend: "Las evidencias señalan qué mantener y reforzar: «%s»", noFigures: "sin cifras"},
	"fr": {figures: "Sur %s, les programmes ont enregistré : %s.", quote: "Comme l'indique un élément de preuve (%s) : « %s »",
		stories: "Extrait d'un élément de preuve (%s) : « %s »", recommend: "Les éléments de preuve indiquent ce qu'il faut conserver et renforcer : « %s »", noFigures: "aucun chiffre"},
}

// Write builds the section from the request's metrics and snippets.
func (Offline) Write(_ context.Context, req Request) (Response, error) {
	start := time.Now()
	words, ok := offlineText[req.Locale]
	if !ok {
		return Response{}, &ProviderError{Status: 400, Message: fmt.Sprintf("no offline templates for locale %q", req.Locale)}
	}
	if len(req.Snippets) == 0 {
		return Response{}, &ProviderError{Status: 400, Message: "no evidence to write from"}
	}
	snip := func(i int) Snippet { return req.Snippets[i%len(req.Snippets)] }
	var paras []string
	switch req.Section {
	case SectionSummary, SectionOutcomes:
		var figs []string
		for _, m := range req.Metrics {
			figs = append(figs, m.Label+" "+strconv.FormatFloat(m.Value, 'f', -1, 64))
		}
		list := words.noFigures
		if len(figs) > 0 {
			list = strings.Join(figs, ", ")
		}
		first := 0
		if req.Section == SectionOutcomes {
			first = 1
		}
		paras = append(paras, fmt.Sprintf(words.figures, req.Period, list)+" "+Cite(snip(first).ID))
		s := snip(first + 1)
		paras = append(paras, fmt.Sprintf(words.quote, s.Source, firstSentences(s.Text, 2))+" "+Cite(s.ID))
	case SectionStories:
		for i := 0; i < min(3, len(req.Snippets)); i++ {
			s := snip(i + 2)
			paras = append(paras, fmt.Sprintf(words.stories, s.Source, firstSentences(s.Text, 3))+" "+Cite(s.ID))
		}
	case SectionRecommendations:
		for i := 0; i < min(2, len(req.Snippets)); i++ {
			s := snip(len(req.Snippets) - 1 - i)
			paras = append(paras, fmt.Sprintf(words.recommend, firstSentences(s.Text, 2))+" "+Cite(s.ID))
		}
	default:
		return Response{}, &ProviderError{Status: 400, Message: fmt.Sprintf("unknown section %q", req.Section)}
	}
	return Response{
		Text:          strings.Join(paras, "\n\n"),
		Model:         OfflineModel,
		PromptVersion: PromptVersion,
		Offline:       true,
		Duration:      time.Since(start),
	}, nil
}

// firstSentences returns up to n sentences of s.
func firstSentences(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	end := 0
	for i := 0; i < n; i++ {
		j := strings.IndexAny(s[end:], ".!?")
		if j < 0 {
			return s
		}
		end += j + 1
	}
	return strings.TrimSpace(s[:end])
}
