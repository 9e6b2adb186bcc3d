// Package demo builds the deterministic demo data set that `impactflow dev` loads on first
// start: tenants in several industries, regions and languages, their programs and
// participants, a year of impact events and a few hundred PII-bearing evidence snippets.
//
// Tenants, programs and participants are inserted directly; events and evidence are
// written as the import API's NDJSON rows, so they go through the same validation as any
// client's upload. Everything follows from the seed and the `now` passed to New: the same
// pair gives byte-identical rows. Tenants, programs and participants come from integer
// draws alone, so they are the same on every platform too (the load benchmarks rely on
// that to name the dev server's programs and participants); event rows use floating
// point, which a compiler may fuse differently on another architecture.
//
// A participant's activity in a program is a run of sessions (a mentoring slot, a
// course class, a volunteering shift). Each session is booked (signup), attended
// (session_started) and finished (session_completed), with no-shows and early leavers on
// the way, so the funnel narrows in events and in distinct participants alike. Outcome
// surveys follow completed sessions; volunteering shifts log their hours; donation
// programs take a pledge (signup) and then gifts. Activity dips in August and December.
package demo

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// Tenant is a demo company, with the profile stored in the tenants table.
type Tenant struct {
	ID, Name, Industry, Region, SizeBand, Timezone, Locale string // e.g. "demo", "Acme Renewables", "energy", "eu-south", "1000-5000", "Europe/Madrid", "es"
}

// Program is one of a tenant's CSR programs.
type Program struct {
	TenantID, Code, Name, Description string // Code is a slug unique per tenant, e.g. "mentoring"
}

// Participant is a person taking part in a tenant's programs. Events name them by ID only;
// the name, email and phone are what the report redactor must find in free text.
type Participant struct {
	TenantID, ID, FullName, Email, Phone string // ID is a pseudonym such as "p-7f3a9c21" (stable for a seed)
}

// Dataset is the demo data for one seed and one point in time.
type Dataset struct {
	Tenants      []Tenant
	Programs     []Program
	Participants []Participant

	seed  int64
	win   window
	plans map[string]*tenantPlan // by tenant ID; the writers read these, never the exported slices
}

// tenantPlan is everything the writers need about one tenant, fixed by New.
type tenantPlan struct {
	prof         *profile
	programs     []*programSpec
	people       []person
	enrollments  []enrollment
	snippetCount int
}

// person is a participant with the details evidence text draws on.
type person struct {
	Participant
	first   string
	city    int // index into the tenant's cities
	manager string
}

// enrollment is one participant's run of activity in one program.
type enrollment struct {
	person   int
	program  int
	startDay int     // day index of the first booking; negative when it began before the window
	sessions int     // sessions planned; fewer happen when the participant drops out or time runs out
	cadence  float64 // days between sessions
	show     float64 // chance of attending a booked session
	finish   float64 // chance of completing an attended session
	drop     float64 // chance of dropping out after each session
	remote   bool
	mentor   string
	baseline float64 // first outcome score
	growth   float64 // outcome points gained per completed session
}

// New builds the data set for a seed; the same seed and now give the same data.
func New(seed int64, now time.Time) *Dataset {
	d := &Dataset{seed: seed, win: newWindow(now), plans: map[string]*tenantPlan{}}
	for _, prof := range profiles() {
		r := d.rng(prof.id, "people")
		plan := &tenantPlan{prof: prof, programs: prof.programs, snippetCount: prof.snippets}
		d.Tenants = append(d.Tenants, Tenant{ID: prof.id, Name: prof.name, Industry: prof.industry, Region: prof.region,
			SizeBand: prof.sizeBand, Timezone: prof.timezone, Locale: prof.locale})
		for _, p := range prof.programs {
			d.Programs = append(d.Programs, Program{TenantID: prof.id, Code: p.code, Name: p.name, Description: p.description})
		}
		plan.people = newPeople(r, prof)
		for _, p := range plan.people {
			d.Participants = append(d.Participants, p.Participant)
		}
		plan.enrollments = newEnrollments(r, prof, plan.people, &d.win)
		d.plans[prof.id] = plan
	}
	return d
}

// rng returns a generator for one purpose of one tenant, so that each writer's output
// depends on the seed alone, not on which writers ran before it.
func (d *Dataset) rng(tenantID, purpose string) *rand.Rand {
	return newRand(d.seed, tenantID+"/"+purpose)
}

func newRand(seed int64, stream string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func (d *Dataset) plan(tenantID string) (*tenantPlan, error) {
	p, ok := d.plans[tenantID]
	if !ok {
		return nil, fmt.Errorf("demo: no tenant %q in the data set", tenantID)
	}
	return p, nil
}

// newPeople makes the tenant's participants, with names plausible for its locale and
// pseudonymous IDs that are unique across the whole data set for a seed.
func newPeople(r *rand.Rand, prof *profile) []person {
	people := make([]person, 0, prof.participants)
	names := map[string]bool{}
	ids := map[string]bool{}
	for len(people) < prof.participants {
		first, full := prof.names.draw(r)
		if names[full] {
			continue
		}
		id := fmt.Sprintf("p-%08x", r.Uint32())
		if ids[id] {
			continue
		}
		names[full], ids[id] = true, true
		city := r.IntN(len(prof.cities))
		_, manager := prof.names.draw(r)
		people = append(people, person{
			Participant: Participant{TenantID: prof.id, ID: id, FullName: full,
				Email: personalEmail(r, full, prof.emailDomains), Phone: prof.phone(r, city)},
			first: first, city: city, manager: manager,
		})
	}
	return people
}

// newEnrollments puts each participant in one to three programs, the first by the
// programs' popularity.
func newEnrollments(r *rand.Rand, prof *profile, people []person, w *window) []enrollment {
	var out []enrollment
	total := 0.0
	for _, p := range prof.programs {
		total += p.popularity
	}
	for i := range people {
		n := 1
		if x := r.Float64(); x < 0.2 {
			n = 3
		} else if x < 0.65 {
			n = 2
		}
		taken := map[int]bool{}
		for len(taken) < n && len(taken) < len(prof.programs) {
			x := r.Float64() * total
			j := 0
			for ; j < len(prof.programs)-1 && x >= prof.programs[j].popularity; j++ {
				x -= prof.programs[j].popularity
			}
			if taken[j] {
				continue
			}
			taken[j] = true
			out = append(out, newEnrollment(r, prof, i, j, w))
		}
	}
	return out
}

func newEnrollment(r *rand.Rand, prof *profile, personIdx, programIdx int, w *window) enrollment {
	spec := prof.programs[programIdx]
	e := enrollment{person: personIdx, program: programIdx, show: 0.8 + 0.15*r.Float64(),
		finish: 0.86 + 0.12*r.Float64(), drop: spec.drop * (0.5 + r.Float64())}
	// Some activity began before the window opened, and joins thin out towards now, so
	// that every month has a mix of old hands and beginners.
	e.startDay = -180 + int(math.Pow(r.Float64(), 1.15)*float64(w.days-14+180))
	e.sessions = spec.minSessions + r.IntN(spec.maxSessions-spec.minSessions+1)
	e.cadence = spec.cadence * (0.8 + 0.4*r.Float64())
	switch x := r.Float64(); {
	case x < 0.08:
		// Booked once and never came: the top of every funnel has these.
		e.sessions, e.show = 1, 0
	case x < 0.13:
		// Came once or twice, left before the end each time, and gave up.
		e.sessions, e.show, e.finish = 1+r.IntN(2), 1, 0
	}
	e.remote = spec.kind == kindMentoring && r.Float64() < 0.3
	_, e.mentor = prof.names.draw(r)
	e.baseline = 25 + 30*r.Float64()
	e.growth = 0.6 + 1.6*r.Float64()
	return e
}
