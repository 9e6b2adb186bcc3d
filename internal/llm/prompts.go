package llm

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// PromptVersion names the prompt templates below. Change it whenever a template changes:
// it is recorded in every report's lineage, so that a report can be traced to the exact
// words that asked for it.
const PromptVersion = "report-v1"

// prompt is one locale's templates. French and Spanish are written for their readers, not
// translated on the fly: each locale has its own section briefs and citation instruction.
type prompt struct {
	system   string
	sections map[string]string
	metrics  string
	evidence string
	problems string
	cite     string
}

var prompts = map[string]prompt{
	"en": {
		system: "You write sections of corporate social responsibility impact reports. Use only the metrics and evidence given. " +
			"Placeholders such as [PERSON_1] stand for redacted personal data: keep them exactly as written, never guess what they hide. " +
			"Write plain paragraphs separated by a blank line, no headings, no lists.",
		sections: map[string]string{
			SectionSummary:         "Write the executive summary of the period {{.Period}}: two or three paragraphs on reach and results.",
			SectionOutcomes:        "Write the outcomes section for {{.Period}}: what changed for participants, with figures.",
			SectionStories:         "Write the participant stories section for {{.Period}}: two or three short stories drawn from the evidence.",
			SectionRecommendations: "Write the recommendations section for {{.Period}}: two or three concrete recommendations grounded in the evidence.",
		},
		metrics:  "Metrics for the period:",
		evidence: "Evidence (cite by ID):",
		problems: "Your previous answer had these problems; fix them:",
		cite:     "Every paragraph must cite at least one evidence item with the marker [cite:ID], e.g. [cite:s-12], using only the IDs listed.",
	},
	"es": {
		system: "Redactas secciones de informes de impacto de responsabilidad social corporativa. Usa solo las métricas y las evidencias facilitadas. " +
			"Los marcadores como [PERSON_1] sustituyen datos personales ocultos: mantenlos tal cual y no intentes adivinar qué ocultan. " +
			"Escribe en español, en párrafos separados por una línea en blanco, sin títulos ni listas.",
		sections: map[string]string{
			SectionSummary:         "Redacta el resumen ejecutivo del periodo {{.Period}}: dos o tres párrafos sobre alcance y resultados.",
			SectionOutcomes:        "Redacta la sección de resultados de {{.Period}}: qué cambió para las personas participantes, con cifras.",
			SectionStories:         "Redacta la sección de historias de participantes de {{.Period}}: dos o tres historias breves basadas en las evidencias.",
			SectionRecommendations: "Redacta la sección de recomendaciones de {{.Period}}: dos o tres recomendaciones concretas basadas en las evidencias.",
		},
		metrics:  "Métricas del periodo:",
		evidence: "Evidencias (cítalas por su ID):",
		problems: "Tu respuesta anterior tenía estos problemas; corrígelos:",
		cite:     "Cada párrafo debe citar al menos una evidencia con el marcador [cite:ID], por ejemplo [cite:s-12], usando solo los ID indicados.",
	},
	"fr": {
		system: "Vous rédigez des sections de rapports d'impact RSE. N'utilisez que les indicateurs et les éléments de preuve fournis. " +
			"Les marqueurs comme [PERSON_1] remplacent des données personnelles masquées : conservez-les tels quels, sans chercher à deviner ce qu'ils cachent. " +
			"Rédigez en français, en paragraphes séparés par une ligne vide, sans titres ni listes.",
		sections: map[string]string{
			SectionSummary:         "Rédigez la synthèse de la période {{.Period}} : deux ou trois paragraphes sur la portée et les résultats.",
			SectionOutcomes:        "Rédigez la section des résultats pour {{.Period}} : ce qui a changé pour les participants, chiffres à l'appui.",
			SectionStories:         "Rédigez la section des témoignages de participants pour {{.Period}} : deux ou trois courts récits tirés des éléments de preuve.",
			SectionRecommendations: "Rédigez la section des recommandations pour {{.Period}} : deux ou trois recommandations concrètes fondées sur les éléments de preuve.",
		},
		metrics:  "Indicateurs de la période :",
		evidence: "Éléments de preuve (à citer par leur ID) :",
		problems: "Votre réponse précédente présentait ces problèmes ; corrigez-les :",
		cite:     "Chaque paragraphe doit citer au moins un élément de preuve avec le marqueur [cite:ID], par exemple [cite:s-12], en n'utilisant que les ID listés.",
	},
}

// Messages builds the system and user messages of a request from its locale's templates.
func Messages(req Request) (system, user string, err error) {
	p, ok := prompts[req.Locale]
	if !ok {
		return "", "", fmt.Errorf("no prompt templates for locale %q", req.Locale)
	}
	brief, ok := p.sections[req.Section]
	if !ok {
		return "", "", fmt.Errorf("no prompt template for section %q", req.Section)
	}
	t, err := template.New("brief").Parse(brief)
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, req); err != nil {
		return "", "", err
	}
	b.WriteString("\n\n" + p.metrics + "\n")
	for _, m := range req.Metrics {
		b.WriteString("- " + m.Label + ": " + strconv.FormatFloat(m.Value, 'f', -1, 64) + "\n")
	}
	b.WriteString("\n" + p.evidence + "\n")
	for _, s := range req.Snippets {
		b.WriteString("- " + s.ID + " (" + s.Source + "): " + s.Text + "\n")
	}
	b.WriteString("\n" + p.cite + "\n")
	if len(req.Problems) > 0 {
		b.WriteString("\n" + p.problems + "\n")
		for _, pr := range req.Problems {
			b.WriteString("- " + pr + "\n")
		}
	}
	return p.system, b.String(), nil
}
