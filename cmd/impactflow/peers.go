package main

import (
	"bytes"
	"context"
	"fmt"
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
		loaded, err := p.store.HasImpactEvents(ctx, id)
		if err != nil || loaded {
			if err != nil {
				return err
			}
			continue
		}
		participants := make([]string, 40+20*i)
		for j := range participants {
			participants[j] = fmt.Sprintf("%s-p%d", id, j)
		}
		var body bytes.Buffer
		if err := demo.WriteSyntheticEvents(&body, programs, participants, benchmarkPeerEvents*i/3, int64(1000+i), time.Now().UTC().Truncate(24*time.Hour)); err != nil {
			return err
		}
		secret := store.NewKeySecret()
		key, err := p.store.CreateAPIKey(ctx, id, "peer loader", store.RoleOperator, secret)
		if err != nil {
			return err
		}
		job, err := postImport(ctx, apiURL+"/v1/impact-events", secret, "peers-"+id, &body)
		if err != nil {
			return fmt.Errorf("benchmark peer import for %s: %w", id, err)
		}
		if _, err := p.jobs.Wait(ctx, id, job, 5*time.Minute); err != nil {
			return err
		}
		if _, err := p.store.RevokeAPIKey(ctx, id, key.ID); err != nil {
			return err
		}
	}
	return nil
}
