package api_test

import (
	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/metrics"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute fails when a route is added without its documentation.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc := getJSON(t, "/openapi.json", "")
	if doc.Status != http.StatusOK || doc.Body["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json = %d", doc.Status)
	}
	paths, _ := doc.Body["paths"].(map[string]any)
	for _, r := range routeList(t) {
		item, _ := paths[r.path].(map[string]any)
		op, _ := item[strings.ToLower(r.method)].(map[string]any)
		if op == nil {
			t.Errorf("%s %s is not in the OpenAPI document", r.method, r.path)
			continue
		}
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s %s has no summary", r.method, r.path)
		}
		if resp, _ := op["responses"].(map[string]any); len(resp) == 0 {
			t.Errorf("%s %s documents no responses", r.method, r.path)
		}
	}
}

type routeKey struct{ method, path string }

func routeList(t *testing.T) []routeKey {
	t.Helper()
	var out []routeKey
	for _, r := range api.Routes(api.Deps{Metrics: metrics.New()}) {
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
			}
		}
		out = append(out, routeKey{r.Method, p})
	}
	if len(out) < 15 {
		t.Fatalf("only %d routes registered", len(out))
	}
	return out
}
