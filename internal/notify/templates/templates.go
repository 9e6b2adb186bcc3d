// Package templates renders impactflow's localized notification templates: an HTML part
// (responsive, CSS inlined in style attributes, user data escaped by html/template) and a
// plain-text part for every template in every locale. A variable the data does not carry is
// a render error, never a blank in a sent message.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"sort"
	"strings"
	texttemplate "text/template"
)

//go:embed files
var files embed.FS

// The templates every locale has.
const (
	WeeklyReport    = "weekly_report"
	SLOAlert        = "slo_alert"
	Welcome         = "welcome"
	GDPRExportReady = "gdpr_export_ready"
)

// Names lists the templates.
var Names = []string{WeeklyReport, SLOAlert, Welcome, GDPRExportReady}

// Locales lists the locales every template is written in.
var Locales = []string{"en", "es", "fr"}

// ErrUnknownTemplate and ErrUnknownLocale are a request for something that does not exist.
var (
	ErrUnknownTemplate = errors.New("unknown template")
	ErrUnknownLocale   = errors.New("unknown locale")
)

// MissingVariableError is a render that referenced a variable the data does not hold.
type MissingVariableError struct {
	Template, Locale string
	Err              error
}

func (e *MissingVariableError) Error() string {
	return fmt.Sprintf("render %s (%s): %v", e.Template, e.Locale, e.Err)
}

func (e *MissingVariableError) Unwrap() error { return e.Err }

// Rendered is a template rendered for one recipient.
type Rendered struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
}

// samples is example data for each template: the preview endpoint renders with it and the
// tests check that every locale uses exactly these variables.
var samples = map[string]map[string]any{
	WeeklyReport: {
		"tenant_name": "Acme Foundation", "period_start": "2026-03-02", "period_end": "2026-03-08",
		"events": 1284, "hours": "312.5", "participants": 87, "report_url": "https://app.example.com/reports/weekly",
	},
	SLOAlert: {
		"tenant_name": "Acme Foundation", "slo_name": "Report generation latency", "objective": "99% under 60 s",
		"actual": "94.2%", "window": "last 24 hours", "dashboard_url": "https://app.example.com/slo",
	},
	Welcome: {
		"name": "Ada Lovelace", "tenant_name": "Acme Foundation", "login_url": "https://app.example.com/login",
	},
	GDPRExportReady: {
		"name": "Ada Lovelace", "download_url": "https://app.example.com/privacy/exports/123", "expires_at": "2026-03-15 18:00 UTC",
	},
}

// Sample returns a copy of the template's example data.
func Sample(name string) (map[string]any, error) {
	s, ok := samples[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownTemplate, name)
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out, nil
}

// Variables lists the variables a template needs, sorted.
func Variables(name string) []string {
	var vars []string
	for k := range samples[name] {
		vars = append(vars, k)
	}
	sort.Strings(vars)
	return vars
}

// Known reports whether name is a template and locale one of its locales.
func Known(name, locale string) error {
	if !slices.Contains(Names, name) {
		return fmt.Errorf("%w %q", ErrUnknownTemplate, name)
	}
	if !slices.Contains(Locales, locale) {
		return fmt.Errorf("%w %q", ErrUnknownLocale, locale)
	}
	return nil
}

// parsed holds one template in one locale, parsed for both parts.
type parsed struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

var all = mustParseAll()

func mustParseAll() map[string]parsed {
	layout, err := files.ReadFile("files/layout.html")
	if err != nil {
		panic(err)
	}
	out := map[string]parsed{}
	for _, name := range Names {
		for _, locale := range Locales {
			body, err := files.ReadFile("files/" + name + "." + locale + ".tmpl")
			if err != nil {
				panic(err)
			}
			h := htmltemplate.Must(htmltemplate.New("layout").Option("missingkey=error").Parse(string(layout)))
			htmltemplate.Must(h.Parse(string(body)))
			t := texttemplate.Must(texttemplate.New(name).Option("missingkey=error").Parse(string(body)))
			out[name+"/"+locale] = parsed{html: h, text: t}
		}
	}
	return out
}

// Render renders the template in the locale with data.
func Render(name, locale string, data map[string]any) (Rendered, error) {
	if err := Known(name, locale); err != nil {
		return Rendered{}, err
	}
	p := all[name+"/"+locale]
	var subject, text, html bytes.Buffer
	if err := p.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Rendered{}, &MissingVariableError{Template: name, Locale: locale, Err: err}
	}
	if err := p.text.ExecuteTemplate(&text, "text", data); err != nil {
		return Rendered{}, &MissingVariableError{Template: name, Locale: locale, Err: err}
	}
	// The layout shows the subject as its heading; it is escaped there like any data.
	withSubject := map[string]any{"data": data, "subject": strings.TrimSpace(subject.String()), "locale": locale}
	if err := p.html.ExecuteTemplate(&html, "layout", withSubject); err != nil {
		return Rendered{}, &MissingVariableError{Template: name, Locale: locale, Err: err}
	}
	return Rendered{Subject: strings.TrimSpace(subject.String()), HTML: html.String(), Text: strings.TrimSpace(text.String()) + "\n"}, nil
}

// plainLayout renders a free-form message (subject and body given by the caller) in the
// same layout, the body escaped.
var plainLayout = func() *htmltemplate.Template {
	layout, err := files.ReadFile("files/layout.html")
	if err != nil {
		panic(err)
	}
	h := htmltemplate.Must(htmltemplate.New("layout").Option("missingkey=error").Parse(string(layout)))
	return htmltemplate.Must(h.Parse(`{{define "body"}}{{range .}}<p style="margin:0 0 16px 0;">{{.}}</p>{{end}}{{end}}`))
}()

// RenderPlain wraps a caller's own subject and body in the layout: the HTML part escapes
// the body and keeps its paragraphs.
func RenderPlain(subject, body string) (Rendered, error) {
	var paragraphs []string
	for _, p := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			paragraphs = append(paragraphs, p)
		}
	}
	var html bytes.Buffer
	if err := plainLayout.ExecuteTemplate(&html, "layout", map[string]any{"data": paragraphs, "subject": subject, "locale": "en"}); err != nil {
		return Rendered{}, err
	}
	return Rendered{Subject: subject, HTML: html.String(), Text: strings.TrimSpace(body) + "\n"}, nil
}
