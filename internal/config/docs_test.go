package config

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The README and docker-compose.yml describe the configuration by hand; these tests keep
// them from drifting away from Vars().

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       yaml.Node      `yaml:"build"`
	Environment map[string]any `yaml:"environment"`
}

// builtFromDockerfile reports whether build is `.` or {context: ., dockerfile: Dockerfile}.
func (s composeService) builtFromDockerfile() bool {
	switch s.Build.Kind {
	case yaml.ScalarNode:
		return s.Build.Value == "." || s.Build.Value == "./"
	case yaml.MappingNode:
		var b struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		}
		if err := s.Build.Decode(&b); err != nil {
			return false
		}
		return (b.Context == "." || b.Context == "./") && (b.Dockerfile == "" || b.Dockerfile == "Dockerfile")
	}
	return false
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatalf("read docker-compose.yml: %v", err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	return f
}

func varNames() []string {
	var names []string
	for _, v := range Vars() {
		names = append(names, v.Name)
	}
	return names
}

func TestComposeHasEveryService(t *testing.T) {
	f := readCompose(t)
	for _, name := range []string{"postgres", "redis", "clickhouse", "temporal", "temporal-ui", "api", "worker", "migrate"} {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
		}
	}
}

func TestComposeAppServices(t *testing.T) {
	f := readCompose(t)
	known := varNames()
	for _, name := range []string{"api", "worker", "migrate"} {
		svc, ok := f.Services[name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
			continue
		}
		if !svc.builtFromDockerfile() {
			t.Errorf("service %s is not built from the Dockerfile (want build: .)", name)
		}
		for key := range svc.Environment {
			if !slices.Contains(known, key) {
				t.Errorf("service %s sets %s, which config.Vars() does not know", name, key)
			}
		}
		for key, want := range map[string]string{
			"TEMPORAL_ADDRESS":      "temporal:7233",
			"DATABASE_URL":          "@postgres:5432/",
			"REDIS_URL":             "redis://redis:6379",
			"CLICKHOUSE_URL":        "@clickhouse:9000/default",
			"IMPACTFLOW_SECRET_KEY": "${IMPACTFLOW_SECRET_KEY:?",
		} {
			got, _ := svc.Environment[key].(string)
			if !strings.Contains(got, want) {
				t.Errorf("service %s: %s = %q, want it to contain %q", name, key, got, want)
			}
		}
	}
	if got, _ := f.Services["api"].Environment["HTTP_ADDR"].(string); got != "0.0.0.0:8080" {
		t.Errorf("service api: HTTP_ADDR = %q, want 0.0.0.0:8080", got)
	}
}

// readmeConfigTable returns the README's configuration table as variable → default cell.
func readmeConfigTable(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README.md: %v", err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no ## Configuration section")
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	rows := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := tableCells(line)
		if len(cells) < 3 || !strings.HasPrefix(cells[0], "`") {
			continue // not a table row, or the header / separator
		}
		rows[strings.Trim(cells[0], "`")] = cells[1]
	}
	return rows
}

// tableCells splits a Markdown table row on its unescaped pipes.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") {
		return nil
	}
	line = strings.ReplaceAll(line, `\|`, "\x00")
	var cells []string
	for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
		cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|")))
	}
	return cells
}

func TestReadmeConfigTable(t *testing.T) {
	rows := readmeConfigTable(t)
	for _, v := range Vars() {
		def, ok := rows[v.Name]
		if !ok {
			t.Errorf("README configuration table has no row for %s", v.Name)
			continue
		}
		def = strings.Trim(def, "`")
		if v.Default == "" {
			if def != "" && def != "—" {
				t.Errorf("README: %s default is %q, want — (none)", v.Name, def)
			}
		} else if def != v.Default {
			t.Errorf("README: %s default is %q, want %q", v.Name, def, v.Default)
		}
	}
	known := varNames()
	for name := range rows {
		if !slices.Contains(known, name) {
			t.Errorf("README configuration table lists %s, which config.Vars() does not know", name)
		}
	}
}
