package bench

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/impactflow/impactflow/internal/demo"
)

const (
	// demoTenant is the tenant of the dev API key, whose programs the rows name.
	demoTenant = "demo"
	// demoSeed is the seed `impactflow dev` builds its demo data set with.
	demoSeed = 1
)

// events writes valid event rows for the demo tenant's programs and participants. Each
// write takes a seed of its own, derived from the run's, so that its event IDs are new.
type events struct {
	seed         int64
	programs     []string
	participants []string
	now          time.Time
	writes       atomic.Int64
}

func newEvents(seed int64) (*events, error) {
	now := time.Now().UTC()
	ds := demo.New(demoSeed, now)
	ev := &events{seed: seed, now: now}
	for _, p := range ds.Programs {
		if p.TenantID == demoTenant {
			ev.programs = append(ev.programs, p.Code)
		}
	}
	for _, p := range ds.Participants {
		if p.TenantID == demoTenant {
			ev.participants = append(ev.participants, p.ID)
		}
	}
	if len(ev.programs) == 0 || len(ev.participants) == 0 {
		return nil, fmt.Errorf("the demo data set has no programs or participants for tenant %q", demoTenant)
	}
	return ev, nil
}

// write writes n rows with event IDs no other write of this run, nor another run, uses.
func (e *events) write(w io.Writer, n int) error {
	seed := e.seed + e.writes.Add(1) - 1
	return demo.WriteSyntheticEvents(w, e.programs, e.participants, n, seed, e.now)
}
