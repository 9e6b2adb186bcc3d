package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/ingest"
)

// testNow is deliberately not midnight and has nanoseconds, so the window's edges matter.
var testNow = time.Date(2026, 5, 14, 9, 30, 15, 123456789, time.UTC)

const testSeed = 1

// written is one tenant's rows, as WriteEvents and WriteEvidence wrote them.
type written struct {
	events, evidence []byte
	nEvents, nEvid   int
}

var fixture = sync.OnceValue(func() *generated { return generate(testSeed, testNow) })

type generated struct {
	ds   *Dataset
	rows map[string]written
}

func generate(seed int64, now time.Time) *generated {
	g := &generated{ds: New(seed, now), rows: map[string]written{}}
	for _, t := range g.ds.Tenants {
		var ev, sn bytes.Buffer
		ne, err := g.ds.WriteEvents(&ev, t.ID)
		if err != nil {
			panic(err)
		}
		ns, err := g.ds.WriteEvidence(&sn, t.ID)
		if err != nil {
			panic(err)
		}
		g.rows[t.ID] = written{events: ev.Bytes(), evidence: sn.Bytes(), nEvents: ne, nEvid: ns}
	}
	return g
}

func lines(b []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

type eventRow struct {
	EventID     string            `json:"event_id"`
	Program     string            `json:"program"`
	Participant string            `json:"participant"`
	Kind        string            `json:"kind"`
	OccurredAt  string            `json:"occurred_at"`
	Value       json.Number       `json:"value"`
	Attributes  map[string]string `json:"attributes"`
}

type evidenceRow struct {
	SnippetID   string `json:"snippet_id"`
	Program     string `json:"program"`
	Participant string `json:"participant"`
	Text        string `json:"text"`
	Source      string `json:"source"`
	OccurredAt  string `json:"occurred_at"`
}

var (
	eventKeys    = []string{"attributes", "event_id", "kind", "occurred_at", "participant", "program", "value"}
	evidenceKeys = []string{"occurred_at", "participant", "program", "snippet_id", "source", "text"}
)

// decodeRow checks that a row is one JSON object with exactly the given keys, then
// decodes it strictly into v.
func decodeRow(t *testing.T, line []byte, keys []string, v any) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("row is not a JSON object: %v\n%s", err, line)
	}
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		t.Fatalf("row keys = %v, want %v\n%s", got, keys, line)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode row: %v\n%s", err, line)
	}
}

// inWindow parses an occurred_at and checks it is RFC 3339 UTC in [now-12 months, now].
func inWindow(t *testing.T, s string, now time.Time) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("occurred_at %q is not RFC 3339 UTC: %v", s, err)
	}
	if at.Before(now.AddDate(0, -12, 0)) || at.After(now) {
		t.Fatalf("occurred_at %s is outside [%s, %s]", s, now.AddDate(0, -12, 0).Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	}
	return at
}

func TestSameSeedSameBytes(t *testing.T) {
	a := fixture()
	b := generate(testSeed, testNow)
	if !reflect.DeepEqual(a.ds.Tenants, b.ds.Tenants) || !reflect.DeepEqual(a.ds.Programs, b.ds.Programs) ||
		!reflect.DeepEqual(a.ds.Participants, b.ds.Participants) {
		t.Fatal("two data sets for the same seed differ")
	}
	for id, w := range a.rows {
		if !bytes.Equal(w.events, b.rows[id].events) {
			t.Errorf("%s: events differ between two runs with the same seed", id)
		}
		if !bytes.Equal(w.evidence, b.rows[id].evidence) {
			t.Errorf("%s: evidence differs between two runs with the same seed", id)
		}
	}

	// Writers do not depend on each other: the last tenant's evidence alone is the same.
	last := a.ds.Tenants[len(a.ds.Tenants)-1].ID
	var alone bytes.Buffer
	if _, err := New(testSeed, testNow).WriteEvidence(&alone, last); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(alone.Bytes(), a.rows[last].evidence) {
		t.Errorf("%s: evidence depends on what was written before it", last)
	}

	c := generate(testSeed+1, testNow)
	if reflect.DeepEqual(a.ds.Participants, c.ds.Participants) || bytes.Equal(a.rows["demo"].events, c.rows["demo"].events) {
		t.Error("another seed gives the same data")
	}
}

// TestCatalogDoesNotDependOnNow: the load benchmarks build the data set with time.Now()
// to name the programs and participants that `impactflow dev` inserted days earlier.
func TestCatalogDoesNotDependOnNow(t *testing.T) {
	a, b := New(testSeed, testNow), New(testSeed, testNow.AddDate(0, 2, 3).Truncate(24*time.Hour))
	if !reflect.DeepEqual(a.Tenants, b.Tenants) || !reflect.DeepEqual(a.Programs, b.Programs) ||
		!reflect.DeepEqual(a.Participants, b.Participants) {
		t.Error("tenants, programs or participants change with now")
	}
}

func TestVolumesAndTenants(t *testing.T) {
	for _, seed := range []int64{testSeed, 2, 42, -7} {
		g := fixture()
		if seed != testSeed {
			g = generate(seed, testNow)
		}
		events, snippets := 0, 0
		for _, w := range g.rows {
			events += w.nEvents
			snippets += w.nEvid
			if got := len(lines(w.events)); got != w.nEvents {
				t.Errorf("seed %d: WriteEvents returned %d but wrote %d rows", seed, w.nEvents, got)
			}
			if got := len(lines(w.evidence)); got != w.nEvid {
				t.Errorf("seed %d: WriteEvidence returned %d but wrote %d rows", seed, w.nEvid, got)
			}
		}
		t.Logf("seed %d: %d events, %d snippets", seed, events, snippets)
		if events < 100_000 {
			t.Errorf("seed %d: %d events, want at least 100,000", seed, events)
		}
		if snippets < 300 || snippets > 600 {
			t.Errorf("seed %d: %d snippets, want 300-600", seed, snippets)
		}
		for _, tn := range g.ds.Tenants {
			if tn.ID != "demo" && g.rows[tn.ID].nEvents >= g.rows["demo"].nEvents {
				t.Errorf("seed %d: %s has %d events, not fewer than demo's %d", seed, tn.ID, g.rows[tn.ID].nEvents, g.rows["demo"].nEvents)
			}
		}
	}

	ds := fixture().ds
	if len(ds.Tenants) < 3 {
		t.Fatalf("%d tenants, want at least 3", len(ds.Tenants))
	}
	industries, regions, locales, ids := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, tn := range ds.Tenants {
		if tn.ID == "" || tn.Name == "" || tn.Industry == "" || tn.Region == "" || tn.SizeBand == "" || tn.Timezone == "" {
			t.Errorf("tenant %+v has an empty field", tn)
		}
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`).MatchString(tn.ID) {
			t.Errorf("tenant ID %q does not fit the tenants table", tn.ID)
		}
		if _, err := time.LoadLocation(tn.Timezone); err != nil {
			t.Logf("time zone %q cannot be checked here: %v", tn.Timezone, err)
		}
		industries[tn.Industry], regions[tn.Region], locales[tn.Locale], ids[tn.ID] = true, true, true, true
	}
	if !ids["demo"] {
		t.Error(`no "demo" tenant`)
	}
	if len(industries) != len(ds.Tenants) || len(regions) != len(ds.Tenants) {
		t.Errorf("industries %v and regions %v are not all distinct", industries, regions)
	}
	if !locales["en"] || !locales["es"] || !locales["fr"] || len(locales) != 3 {
		t.Errorf("locales %v, want en, es and fr only", locales)
	}

	perTenant := map[string]int{}
	codes := map[string]bool{}
	for _, p := range ds.Programs {
		perTenant[p.TenantID]++
		if codes[p.TenantID+"/"+p.Code] {
			t.Errorf("program code %s/%s appears twice", p.TenantID, p.Code)
		}
		codes[p.TenantID+"/"+p.Code] = true
		if !regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`).MatchString(p.Code) || p.Name == "" || p.Description == "" {
			t.Errorf("program %+v: code is not a slug or name/description is empty", p)
		}
	}
	people := map[string]int{}
	pids, names := map[string]bool{}, map[string]bool{}
	for _, p := range ds.Participants {
		people[p.TenantID]++
		if !regexp.MustCompile(`^p-[0-9a-f]{8}$`).MatchString(p.ID) || pids[p.ID] {
			t.Errorf("participant ID %q is malformed or not unique", p.ID)
		}
		if names[p.TenantID+"/"+p.FullName] {
			t.Errorf("two participants of %s are called %s", p.TenantID, p.FullName)
		}
		pids[p.ID], names[p.TenantID+"/"+p.FullName] = true, true
		if len(strings.Fields(p.FullName)) < 2 {
			t.Errorf("participant name %q has no surname", p.FullName)
		}
		if !regexp.MustCompile(`^[a-z0-9._]+@([a-z]+\.)*example\.(com|net|org)$`).MatchString(p.Email) {
			t.Errorf("participant email %q is not on a domain reserved for examples", p.Email)
		}
		if !phonePattern.MatchString(p.Phone) {
			t.Errorf("participant phone %q is not in a known format", p.Phone)
		}
	}
	for _, tn := range ds.Tenants {
		if n := perTenant[tn.ID]; n < 3 || n > 5 {
			t.Errorf("%s has %d programs, want 3-5", tn.ID, n)
		}
		if n := people[tn.ID]; n < 200 || n > 1000 {
			t.Errorf("%s has %d participants, want a few hundred", tn.ID, n)
		}
	}
}

var phonePattern = regexp.MustCompile(`\+34 6\d{2} \d{3} \d{3}|\+33 6 39 98 \d{2} \d{2}|\+44 7700 900\d{3}|\(\d{3}\) 555-01\d{2}|` +
	`\b6\d{2} ?\d{3} ?\d{3}\b|\b06 39 98 \d{2} \d{2}\b|\b07700 900\d{3}\b|\+1 \d{3}-555-01\d{2}`)

func TestEventRows(t *testing.T) {
	g := fixture()
	ds := g.ds
	programs, participants := membership(ds)
	for _, tn := range ds.Tenants {
		seen := map[string]bool{}
		kinds := map[string]int{}
		for _, line := range lines(g.rows[tn.ID].events) {
			var e eventRow
			decodeRow(t, line, eventKeys, &e)
			// The loader finds the data set's own events by this prefix.
			if !strings.HasPrefix(e.EventID, EventIDPrefix(tn.ID)) || seen[e.EventID] {
				t.Fatalf("event_id %q does not start with %q or is not unique", e.EventID, EventIDPrefix(tn.ID))
			}
			seen[e.EventID] = true
			if !programs[tn.ID][e.Program] {
				t.Fatalf("%s: event names program %q, not one of the tenant's", tn.ID, e.Program)
			}
			if !participants[tn.ID][e.Participant] {
				t.Fatalf("%s: event names participant %q, not one of the tenant's", tn.ID, e.Participant)
			}
			inWindow(t, e.OccurredAt, testNow)
			kinds[e.Kind]++
			checkValue(t, tn, e, line)
			if e.Attributes["location"] == "" || !regexp.MustCompile(`^20\d\d-Q[1-4]$`).MatchString(e.Attributes["cohort"]) {
				t.Fatalf("attributes lack a location or cohort: %s", line)
			}
		}
		for _, k := range ingest.EventKinds {
			if kinds[k] == 0 {
				t.Errorf("%s: no %s events", tn.ID, k)
			}
		}
		t.Logf("%s: %v", tn.ID, kinds)
	}
}

func checkValue(t *testing.T, tn Tenant, e eventRow, line []byte) {
	t.Helper()
	v, err := e.Value.Float64()
	if err != nil {
		t.Fatalf("value %q: %v", e.Value, err)
	}
	switch e.Kind {
	case "signup", "session_started", "session_completed":
		if v != 1 {
			t.Fatalf("%s value %v, want 1: %s", e.Kind, v, line)
		}
	case "volunteer_hours":
		if v < 0.5 || v > 8 || v*2 != float64(int(v*2)) {
			t.Fatalf("volunteer_hours value %v, want 0.5-8 in half hours: %s", v, line)
		}
	case "outcome_measured":
		if v < 0 || v > 100 || !slices.Contains([]string{"confidence", "employability", "literacy", "wellbeing"}, e.Attributes["metric"]) {
			t.Fatalf("outcome_measured value %v or metric %q is wrong: %s", v, e.Attributes["metric"], line)
		}
	case "donation":
		want := map[string]string{"es": "EUR", "fr": "EUR"}[tn.Locale]
		if v <= 0 || e.Attributes["currency"] == "" || want != "" && e.Attributes["currency"] != want {
			t.Fatalf("donation value %v or currency %q is wrong: %s", v, e.Attributes["currency"], line)
		}
	default:
		t.Fatalf("kind %q is not an event kind: %s", e.Kind, line)
	}
}

// membership maps each tenant to its program codes and participant IDs.
func membership(ds *Dataset) (programs, participants map[string]map[string]bool) {
	programs, participants = map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, tn := range ds.Tenants {
		programs[tn.ID], participants[tn.ID] = map[string]bool{}, map[string]bool{}
	}
	for _, p := range ds.Programs {
		programs[p.TenantID][p.Code] = true
	}
	for _, p := range ds.Participants {
		participants[p.TenantID][p.ID] = true
	}
	return programs, participants
}

// TestImportAcceptsEveryRow runs the rows through the import job's own splitter and
// validator: `impactflow dev` expects no rejections.
func TestImportAcceptsEveryRow(t *testing.T) {
	g := fixture()
	for _, tn := range g.ds.Tenants {
		codes := map[string]int64{}
		for i, p := range g.ds.Programs {
			if p.TenantID == tn.ID {
				codes[p.Code] = int64(i + 1)
			}
		}
		v := ingest.Validator{Programs: codes, Now: testNow}
		for _, target := range []ingest.Target{ingest.TargetEvents, ingest.TargetEvidence} {
			data := g.rows[tn.ID].events
			if target == ingest.TargetEvidence {
				data = g.rows[tn.ID].evidence
			}
			sp := ingest.NewSplitter(bytes.NewReader(data), ingest.ChunkRows)
			accepted := 0
			for {
				c, err := sp.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s %s: %v", tn.ID, target, err)
				}
				var rejected []ingest.Rejection
				if target == ingest.TargetEvents {
					ok, rej := v.Events(c)
					accepted, rejected = accepted+len(ok), rej
				} else {
					ok, rej := v.Evidence(c)
					accepted, rejected = accepted+len(ok), rej
				}
				if len(rejected) > 0 {
					t.Fatalf("%s %s: %d rows rejected, first: %+v", tn.ID, target, len(rejected), rejected[0])
				}
			}
			if accepted != len(lines(data)) {
				t.Errorf("%s %s: %d rows accepted of %d", tn.ID, target, accepted, len(lines(data)))
			}
		}
	}
}

func TestFunnelAndOutcomes(t *testing.T) {
	g := fixture()
	total := map[string]int{}
	for _, tn := range g.ds.Tenants {
		count := map[string]int{}
		people := map[string]map[string]bool{}
		firstCompleted := map[string]time.Time{}
		var outcomes []eventRow
		for _, line := range lines(g.rows[tn.ID].events) {
			var e eventRow
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatal(err)
			}
			count[e.Kind]++
			total[e.Kind]++
			if people[e.Kind] == nil {
				people[e.Kind] = map[string]bool{}
			}
			people[e.Kind][e.Program+"/"+e.Participant] = true
			key := e.Program + "/" + e.Participant
			at, _ := time.Parse(time.RFC3339, e.OccurredAt)
			switch e.Kind {
			case "session_completed":
				if f, ok := firstCompleted[key]; !ok || at.Before(f) {
					firstCompleted[key] = at
				}
			case "outcome_measured":
				outcomes = append(outcomes, e)
			}
		}
		if !(count["signup"] > count["session_started"] && count["session_started"] > count["session_completed"]) {
			t.Errorf("%s: funnel in events is not narrowing: %v", tn.ID, count)
		}
		s, st, c := len(people["signup"]), len(people["session_started"]), len(people["session_completed"])
		if !(s > st && st > c) {
			t.Errorf("%s: funnel in participants is not narrowing: %d signed up, %d started, %d completed", tn.ID, s, st, c)
		}
		for _, o := range outcomes {
			at, _ := time.Parse(time.RFC3339, o.OccurredAt)
			f, ok := firstCompleted[o.Program+"/"+o.Participant]
			if !ok || !f.Before(at) {
				t.Fatalf("%s: outcome of %s in %s at %s comes before any completed session", tn.ID, o.Participant, o.Program, o.OccurredAt)
			}
		}
	}
	if !(total["signup"] > total["session_started"] && total["session_started"] > total["session_completed"]) {
		t.Errorf("funnel over all tenants is not narrowing: %v", total)
	}
}

func TestSeasonality(t *testing.T) {
	g := fixture()
	byMonth := map[time.Month]int{}
	for _, w := range g.rows {
		for _, line := range lines(w.events) {
			// occurred_at is the only "-MM-" after `"occurred_at":"YYYY`.
			i := bytes.Index(line, []byte(`"occurred_at":"`)) + len(`"occurred_at":"`)
			m, _ := strconv.Atoi(string(line[i+5 : i+7]))
			byMonth[time.Month(m)]++
		}
	}
	others := 0
	for m, n := range byMonth {
		if m != time.August && m != time.December {
			others += n
		}
	}
	mean := float64(others) / 10
	t.Logf("events by month: %v; mean of the other months %.0f", byMonth, mean)
	for _, m := range []time.Month{time.August, time.December} {
		if float64(byMonth[m]) > 0.8*mean {
			t.Errorf("%s has %d events, not fewer than the other months' mean %.0f", m, byMonth[m], mean)
		}
	}
}

func TestEvidence(t *testing.T) {
	g := fixture()
	programs, participants := membership(g.ds)
	byID := map[string]Participant{}
	for _, p := range g.ds.Participants {
		byID[p.ID] = p
	}
	var total, named, emailed, phoned, otherName, ids int
	texts := map[string]bool{}
	sources := map[string]int{}
	ibanPattern := regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b`)
	cardPattern := regexp.MustCompile(`\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b`)
	for _, tn := range g.ds.Tenants {
		seen := map[string]bool{}
		for _, line := range lines(g.rows[tn.ID].evidence) {
			var e evidenceRow
			decodeRow(t, line, evidenceKeys, &e)
			total++
			if !strings.HasPrefix(e.SnippetID, "ev-") || seen[e.SnippetID] {
				t.Fatalf("snippet_id %q is not ev-… or not unique", e.SnippetID)
			}
			seen[e.SnippetID] = true
			if !programs[tn.ID][e.Program] || !participants[tn.ID][e.Participant] {
				t.Fatalf("%s: snippet names program %q or participant %q not of the tenant", tn.ID, e.Program, e.Participant)
			}
			if !slices.Contains([]string{"survey", "interview", "case_note", "email"}, e.Source) {
				t.Fatalf("source %q", e.Source)
			}
			sources[e.Source]++
			inWindow(t, e.OccurredAt, testNow)
			if n := sentences(e.Text); n < 1 || n > 4 {
				t.Errorf("%d sentences, want 1-4: %q", n, e.Text)
			}
			texts[e.Text] = true
			p := byID[e.Participant]
			if strings.Contains(e.Text, p.FullName) {
				named++
			}
			if strings.Contains(e.Text, p.Email) {
				emailed++
			}
			if phonePattern.MatchString(e.Text) {
				phoned++
			}
			for _, q := range g.ds.Participants {
				if q.TenantID == tn.ID && q.ID != p.ID && strings.Contains(e.Text, q.FullName) {
					otherName++
					break
				}
			}
			for _, m := range ibanPattern.FindAllString(e.Text, -1) {
				ids++
				if !validIBAN(m) {
					t.Errorf("IBAN %q has wrong check digits: %q", m, e.Text)
				}
			}
			for _, m := range cardPattern.FindAllString(ibanPattern.ReplaceAllString(e.Text, ""), -1) {
				ids++
				if !luhn(m) {
					t.Errorf("card %q fails Luhn: %q", m, e.Text)
				}
			}
			if m := regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`).FindString(e.Text); m != "" {
				ids++
				if !strings.HasPrefix(m, "900-") {
					t.Errorf("SSN %q is not in the 900 range: %q", m, e.Text)
				}
			}
			if regexp.MustCompile(`\bQQ ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b`).MatchString(e.Text) {
				ids++
			}
		}
	}
	t.Logf("%d snippets: %d name their participant, %d another person who takes part, %d an email, %d a phone, %d an IBAN/card/SSN/NI number; sources %v",
		total, named, otherName, emailed, phoned, ids, sources)
	if named < total*4/10 {
		t.Errorf("%d of %d snippets name their participant, want at least 40%%", named, total)
	}
	if emailed < total/20 || phoned < total/10 || ids < total/50 || otherName == 0 {
		t.Errorf("too little PII: %d emails, %d phones, %d ID or bank numbers, %d other participants in %d snippets", emailed, phoned, ids, otherName, total)
	}
	if len(texts) < total*98/100 {
		t.Errorf("only %d distinct texts in %d snippets", len(texts), total)
	}
	for _, s := range []string{"survey", "interview", "case_note", "email"} {
		if sources[s] == 0 {
			t.Errorf("no %s snippets", s)
		}
	}
}

// sentences counts the sentences of a snippet, leaving out an email's greeting and signature.
func sentences(text string) int {
	if parts := strings.Split(text, "\n\n"); len(parts) == 3 {
		text = parts[1]
	} else if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i] // a survey's signature
	}
	// Decimal points and the dots of emails are not sentence ends.
	return len(regexp.MustCompile(`[.?!]["»]?(\s|$)`).FindAllString(text, -1))
}

func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	var digits strings.Builder
	for _, c := range s[4:] + s[:4] {
		if c >= 'A' && c <= 'Z' {
			digits.WriteString(strconv.Itoa(int(c-'A') + 10))
		} else {
			digits.WriteRune(c)
		}
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func TestUnknownTenant(t *testing.T) {
	ds := fixture().ds
	if _, err := ds.WriteEvents(io.Discard, "nobody"); err == nil {
		t.Error("WriteEvents for an unknown tenant: no error")
	}
	if _, err := ds.WriteEvidence(io.Discard, "nobody"); err == nil {
		t.Error("WriteEvidence for an unknown tenant: no error")
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	ds := fixture().ds
	if _, err := ds.WriteEvents(&failWriter{n: 100 << 10}, "demo"); err == nil {
		t.Error("WriteEvents: a failing writer's error was lost")
	}
	if _, err := ds.WriteEvidence(&failWriter{n: 0}, "demo"); err == nil {
		t.Error("WriteEvidence: a failing writer's error was lost")
	}
	if err := WriteSyntheticEvents(&failWriter{n: 100 << 10}, []string{"m"}, []string{"p-1"}, 10_000, 1, testNow); err == nil {
		t.Error("WriteSyntheticEvents: a failing writer's error was lost")
	}
}

func TestSyntheticEvents(t *testing.T) {
	programs := []string{"mentoring", "green-skills"}
	people := []string{"p-00000001", "p-00000002", "p-00000003"}
	const n = 20_000
	write := func(seed int64) []byte {
		var b bytes.Buffer
		if err := WriteSyntheticEvents(&b, programs, people, n, seed, testNow); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, again, other := write(5), write(5), write(6)
	if !bytes.Equal(a, again) {
		t.Error("the same seed gave different rows")
	}
	ids := map[string]bool{}
	kinds := map[string]int{}
	tn := Tenant{Locale: "es"}
	for i, data := range [][]byte{a, other} {
		seed := []int64{5, 6}[i]
		rows := lines(data)
		if len(rows) != n {
			t.Fatalf("%d rows, want %d", len(rows), n)
		}
		for _, line := range rows {
			var e eventRow
			decodeRow(t, line, eventKeys, &e)
			if ids[e.EventID] {
				t.Fatalf("event_id %q repeats, within a seed or across seeds 5 and 6", e.EventID)
			}
			if !strings.HasPrefix(e.EventID, SyntheticEventIDPrefix(seed)) {
				t.Fatalf("event_id %q does not start with seed %d's prefix %q", e.EventID, seed, SyntheticEventIDPrefix(seed))
			}
			ids[e.EventID] = true
			if !slices.Contains(programs, e.Program) || !slices.Contains(people, e.Participant) {
				t.Fatalf("row names a program or participant it was not given: %s", line)
			}
			inWindow(t, e.OccurredAt, testNow)
			checkValue(t, tn, e, line)
			kinds[e.Kind]++
		}
	}
	if !(kinds["signup"] > kinds["session_started"] && kinds["session_started"] > kinds["session_completed"]) || len(kinds) != 6 {
		t.Errorf("kinds %v: want all six, with a narrowing funnel", kinds)
	}

	// Seeds far apart and negative ones are distinct too.
	for _, seed := range []int64{-1, 1 << 62, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()} {
		var b bytes.Buffer
		if err := WriteSyntheticEvents(&b, programs, people, 1, seed, testNow); err != nil {
			t.Fatal(err)
		}
		var e eventRow
		decodeRow(t, bytes.TrimSpace(b.Bytes()), eventKeys, &e)
		if ids[e.EventID] || len(e.EventID) > 128 {
			t.Errorf("seed %d: event_id %q repeats or is too long", seed, e.EventID)
		}
		ids[e.EventID] = true
	}

	v := ingest.Validator{Programs: map[string]int64{"mentoring": 1, "green-skills": 2}, Now: testNow}
	sp := ingest.NewSplitter(bytes.NewReader(a), ingest.ChunkRows)
	for {
		c, err := sp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, rej := v.Events(c); len(rej) > 0 {
			t.Fatalf("%d synthetic rows rejected, first: %+v", len(rej), rej[0])
		}
	}
}

func TestSyntheticEventsArguments(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSyntheticEvents(&b, []string{"m"}, []string{"p"}, 0, 1, testNow); err != nil || b.Len() != 0 {
		t.Errorf("n = 0: err %v, %d bytes written", err, b.Len())
	}
	if err := WriteSyntheticEvents(&b, nil, []string{"p"}, 1, 1, testNow); err == nil {
		t.Error("no programs: no error")
	}
	if err := WriteSyntheticEvents(&b, []string{"m"}, nil, 1, 1, testNow); err == nil {
		t.Error("no participants: no error")
	}
	if err := WriteSyntheticEvents(&b, []string{"m"}, []string{"p"}, -1, 1, testNow); err == nil {
		t.Error("negative n: no error")
	}
	// Codes and IDs are the caller's: they are escaped, not trusted.
	if err := WriteSyntheticEvents(&b, []string{`odd "code"`}, []string{`p\1`}, 1, 1, testNow); err != nil {
		t.Fatal(err)
	}
	var e eventRow
	decodeRow(t, bytes.TrimSpace(b.Bytes()), eventKeys, &e)
	if e.Program != `odd "code"` || e.Participant != `p\1` {
		t.Errorf("program %q, participant %q", e.Program, e.Participant)
	}
}

// TestMidnightNow covers the window `impactflow dev` uses: today at midnight UTC.
func TestMidnightNow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := New(3, now)
	for _, tn := range ds.Tenants {
		var b bytes.Buffer
		if _, err := ds.WriteEvents(&b, tn.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := ds.WriteEvidence(&b, tn.ID); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(&b)
		for sc.Scan() {
			var row struct {
				OccurredAt string `json:"occurred_at"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatal(err)
			}
			inWindow(t, row.OccurredAt, now)
		}
	}
}

func TestTimestamps(t *testing.T) {
	w := newWindow(testNow)
	for _, at := range []int64{w.start, w.end - 1, w.day0 + 86400*100 + 3661} {
		if got, want := string(w.appendStamp(nil, at)), time.Unix(at, 0).UTC().Format(time.RFC3339); got != want {
			t.Errorf("appendStamp(%d) = %s, want %s", at, got, want)
		}
	}
	madrid := &profile{utcOffset: 1, dst: dstEU}
	for _, tt := range []struct {
		date string
		want string
	}{
		{"2026-01-15", "2026-01-15T09:00:00Z"}, // CET
		{"2025-07-15", "2025-07-15T08:00:00Z"}, // CEST
	} {
		day, _ := time.Parse(time.DateOnly, tt.date)
		d := w.dayOf(day.Unix())
		if got := string(w.appendStamp(nil, w.at(d, 10*3600, madrid))); got != tt.want {
			t.Errorf("10:00 in Madrid on %s = %s, want %s", tt.date, got, tt.want)
		}
	}
	for _, tt := range []struct {
		v    int64
		want string
	}{{100, "1"}, {250, "2.5"}, {1250, "12.5"}, {1, "0.01"}, {10, "0.1"}, {7300, "73"}, {0, "0"}} {
		if got := string(appendHundredths(nil, tt.v)); got != tt.want {
			t.Errorf("appendHundredths(%d) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New(testSeed, testNow)
	}
}

// BenchmarkWriteEvents writes every tenant's events, the whole demo load.
func BenchmarkWriteEvents(b *testing.B) {
	ds := New(testSeed, testNow)
	rows := 0
	for b.Loop() {
		rows = 0
		for _, tn := range ds.Tenants {
			n, err := ds.WriteEvents(io.Discard, tn.ID)
			if err != nil {
				b.Fatal(err)
			}
			rows += n
		}
	}
	b.ReportMetric(float64(rows), "rows/op")
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkWriteEvidence(b *testing.B) {
	ds := New(testSeed, testNow)
	for b.Loop() {
		for _, tn := range ds.Tenants {
			if _, err := ds.WriteEvidence(io.Discard, tn.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkWriteSyntheticEvents writes the import-1m benchmark's file: a million rows.
func BenchmarkWriteSyntheticEvents(b *testing.B) {
	ds := New(testSeed, testNow)
	var programs, people []string
	for _, p := range ds.Programs {
		if p.TenantID == "demo" {
			programs = append(programs, p.Code)
		}
	}
	for _, p := range ds.Participants {
		if p.TenantID == "demo" {
			people = append(people, p.ID)
		}
	}
	const n = 1_000_000
	var cw countingWriter
	for b.Loop() {
		cw = 0
		if err := WriteSyntheticEvents(&cw, programs, people, n, testSeed, testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(cw))
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
