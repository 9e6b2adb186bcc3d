package reports

import (
	"testing"

	"github.com/impactflow/impactflow/internal/store"
)

func TestQuotePicksTheSentenceTheParagraphReliesOn(t *testing.T) {
	snippet := "Attendance was patchy in spring. After the evening sessions started, attendance improved for the whole cohort! She also found a job."
	for _, tc := range []struct{ paragraph, want string }{
		{"Evening sessions improved attendance across the cohort.", "After the evening sessions started, attendance improved for the whole cohort!"},
		{"She found a job thanks to the course.", "She also found a job."},
		{"", "Attendance was patchy in spring."},
	} {
		if got := quote(snippet, tc.paragraph); got != tc.want {
			t.Errorf("quote for %q = %q, want %q", tc.paragraph, got, tc.want)
		}
	}
}

func TestMetricsAreLabelledInTheReportLanguage(t *testing.T) {
	for loc, want := range map[string]string{"en": "Volunteer hours", "es": "Horas de voluntariado", "fr": "Heures de bénévolat", "de": "Volunteer hours"} {
		ms := metricsOf(storeFigures(), loc)
		if ms[3].Label != want || ms[3].Value != 12.35 {
			t.Errorf("%s: %+v", loc, ms[3])
		}
	}
}

func storeFigures() (f store.PeriodFigures) {
	f.Participants, f.VolunteerHours = 3, 12.345
	return f
}
