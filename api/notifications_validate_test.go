package api

import (
	"errors"
	"testing"

	"github.com/impactflow/impactflow/internal/notify/templates"
)

// TestValidateNamesMissingTemplateData checks that a template's missing variables are
// named in JSON terms, not in text/template's ("map has no entry for key").
func TestValidateNamesMissingTemplateData(t *testing.T) {
	data, _ := templates.Sample(templates.Welcome)
	delete(data, "name")
	delete(data, "login_url")
	req := sendRequest{Channel: "email", To: []string{"ada@example.org"}, Template: templates.Welcome, Data: data}
	var ae *apiError
	if err := req.validate("en"); !errors.As(err, &ae) {
		t.Fatalf("validate: %v, want an apiError", err)
	}
	details, _ := ae.Details.(map[string]any)
	if want := "data is missing login_url, name, which the welcome template uses"; ae.Message != want || details["field"] != "data" {
		t.Errorf("got %q field %v, want %q field data", ae.Message, details["field"], want)
	}

	full, _ := templates.Sample(templates.Welcome)
	req.Data = full
	if err := req.validate("en"); err != nil {
		t.Errorf("validate with the sample data: %v", err)
	}
}
