package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/impactflow/impactflow/internal/demo"
	"github.com/impactflow/impactflow/internal/store"
)

// benchmarkPeers is how many small tenants share the demo tenant's industry, region and
// size band, so that its benchmarks have peer groups large enough to show (k-anonymity
// needs at least 5 other tenants).
const (
	benchmarkPeers      = 6
	benchmarkPeerEvents = 3000
)

// loadBenchmarkPeers creates the peer tenants and imports a few thousand synthetic events
// for each through the import API, once: a peer that has events is left alone.
func loadBenchmarkPeers(ctx context.Context, p *platform, apiURL string) error {
	demoTenant, err := p.store.Tenant(ctx, demoTenantID)
	if err != nil {
		return err
	}
	for i := 1; i <= benchmarkPeers; i++ {
		id := fmt.Sprintf("peer-%d", i)
		if err := p.store.UpsertTenant(ctx, store.Tenant{ID: id, Name: fmt.Sprintf("Peer Company %d", i), Industry: demoTenant.Industry,
			Region: demoTenant.Region, SizeBand: demoTenant.SizeBand, Timezone: "UTC", DefaultLocale: "en"}); err != nil {
			return err
		}
		programs := []string{"mentoring", "volunteering", "giving"}
		if err := p.store.UpsertPrograms(ctx, []store.Program{
			{TenantID: id, Code: programs[0], Name: "Mentoring"}, {TenantID: id, Code: programs[1], Name: "Volunteering"},
			{TenantID: id, Code: programs[2], Name: "Giving"}}); err != nil {
			return err
		}
		seed, n := int64(1000+i), benchmarkPeerEvents*i/3
		loaded, err := p.store.HasImpactEventsPrefixed(ctx, id, demo.SyntheticEventIDPrefix(seed))
		if err != nil {
			return err
		}
		if loaded {
			continue
		}
		participants := make([]string, 40+20*i)
		for j := range participants {
			participants[j] = fmt.Sprintf("%s-p%d", id, j)
		}
		start := time.Now().UTC().Truncate(24 * time.Hour)
		write := func(w io.Writer) (int, error) {
			return n, demo.WriteSyntheticEvents(w, programs, participants, n, seed, start)
		}
		if err := importAs(ctx, p, apiURL, id, "peer loader", "peers-"+id, []upload{{"/v1/impact-events", write}}); err != nil {
			return err
		}
	}
	return nil
}
