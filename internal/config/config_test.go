package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over a fixed map, so tests never read the real environment.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(env(nil))
	if err != nil {
		t.Fatalf("defaults do not load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"DatabaseURL", c.DatabaseURL, "postgres://postgres@127.0.0.1:5432/impactflow?sslmode=disable"},
		{"RedisURL", c.RedisURL, "redis://127.0.0.1:6379/0"},
		{"TemporalAddress", c.TemporalAddress, "127.0.0.1:7233"},
		{"TemporalNamespace", c.TemporalNamespace, "default"},
		{"TemporalUIAddr", c.TemporalUIAddr, "127.0.0.1:8233"},
		{"TemporalRetention", c.TemporalRetention, 168 * time.Hour},
		{"ClickHouseURL", c.ClickHouseURL, ""},
		{"HTTPAddr", c.HTTPAddr, "127.0.0.1:8080"},
		{"LLMBaseURL", c.LLMBaseURL, "https://api.openai.com/v1"},
		{"LLMModel", c.LLMModel, "gpt-4o-mini"},
		{"OpenAIAPIKey", c.OpenAIAPIKey, Secret("")},
		{"SecretKey", c.SecretKey, Secret("")},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(1 << 20)},
		{"MaxImportBytes", c.MaxImportBytes, int64(512 << 20)},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, "text"},
		{"DemoData", c.DemoData, true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if !filepath.IsAbs(c.DataDir) || filepath.Base(c.DataDir) != ".data" {
		t.Errorf("DataDir = %q, want an absolute path ending in .data", c.DataDir)
	}
	if strings.Contains(c.CHDBLibPath, "$HOME") || !filepath.IsAbs(c.CHDBLibPath) {
		t.Errorf("CHDBLibPath = %q, want $HOME expanded to an absolute path", c.CHDBLibPath)
	}
}

func TestLoadOverrides(t *testing.T) {
	c, err := load(env(map[string]string{
		"DATABASE_URL":         "postgresql://app:pw@db:5432/impactflow",
		"HTTP_ADDR":            " 0.0.0.0:9090 ", // surrounding blanks are ignored
		"TEMPORAL_RETENTION":   "720h",
		"CLICKHOUSE_URL":       "clickhouse://clickhouse:9000/default",
		"CHDB_LIB_PATH":        "/opt/chdb/libchdb.so",
		"LOG_LEVEL":            "debug",
		"LOG_FORMAT":           "json",
		"IMPACTFLOW_DEMO_DATA": "false",
		"MAX_BODY_BYTES":       "2048",
		"DATA_DIR":             "   ", // blank means the default
	}))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if c.HTTPAddr != "0.0.0.0:9090" || c.TemporalRetention != 720*time.Hour ||
		c.ClickHouseURL != "clickhouse://clickhouse:9000/default" || c.CHDBLibPath != "/opt/chdb/libchdb.so" ||
		c.LogLevel != slog.LevelDebug || c.LogFormat != "json" || c.DemoData || c.MaxBodyBytes != 2048 ||
		filepath.Base(c.DataDir) != ".data" {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestLoadRejectsMalformed(t *testing.T) {
	tests := []struct{ name, value string }{
		{"DATABASE_URL", "mysql://x"},
		{"DATABASE_URL", "::not a url"},
		{"REDIS_URL", "http://127.0.0.1:6379"},
		{"TEMPORAL_ADDRESS", "nope"},
		{"TEMPORAL_ADDRESS", "127.0.0.1:0"},
		{"TEMPORAL_UI_ADDR", "127.0.0.1:99999"},
		{"TEMPORAL_RETENTION", "1h"},
		{"TEMPORAL_RETENTION", "a week"},
		{"CLICKHOUSE_URL", "localhost:9000"},
		{"HTTP_ADDR", "nope"},
		{"HTTP_ADDR", "8080"},
		{"LLM_BASE_URL", "ftp://llm.example"},
		{"MAX_BODY_BYTES", "-1"},
		{"MAX_BODY_BYTES", "1MB"},
		{"MAX_IMPORT_BYTES", "0"},
		{"LOG_LEVEL", "loud"},
		{"LOG_FORMAT", "xml"},
		{"IMPACTFLOW_DEMO_DATA", "maybe"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := load(env(map[string]string{tt.name: tt.value}))
			if err == nil {
				t.Fatalf("%s=%q was accepted", tt.name, tt.value)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.name) {
				t.Errorf("error %q does not name %s", msg, tt.name)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line", msg)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "sk-live-do-not-print"
	s := Secret(value)
	c := Config{OpenAIAPIKey: s, SendGridAPIKey: s, SecretKey: s, DevAPIKey: s}

	printed := map[string]string{
		"%v":          fmt.Sprintf("%v", s),
		"%s":          fmt.Sprintf("%s", s),
		"%+v":         fmt.Sprintf("%+v", s),
		"%q":          fmt.Sprintf("%q", s),
		"Sprint":      fmt.Sprint(s),
		"Config %v":   fmt.Sprintf("%v", c),
		"Config %+v":  fmt.Sprintf("%+v", c),
		"Config *%+v": fmt.Sprintf("%+v", &c),
	}
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&buf, nil)
		if format == "json" {
			h = slog.NewJSONHandler(&buf, nil)
		}
		slog.New(h).Info("start", "key", s, slog.Any("any", s), slog.Group("llm", "key", s))
		printed["slog "+format] = buf.String()
	}
	for how, out := range printed {
		if strings.Contains(out, value) {
			t.Errorf("%s prints the secret: %s", how, out)
		}
	}
	if !strings.Contains(printed["%v"], "[redacted]") {
		t.Errorf("%%v = %q, want [redacted]", printed["%v"])
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("an empty secret prints %q, want nothing", got)
	}
	if s.Reveal() != value {
		t.Errorf("Reveal() = %q, want the value", s.Reveal())
	}
}
