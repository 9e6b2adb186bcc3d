package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/impactflow/impactflow/internal/demo"
	"github.com/impactflow/impactflow/internal/store"
)

const demoTenantID = "demo"

// demoSeed fixes the demo data set: every developer gets the same tenants and rows.
const demoSeed = 1

func demoData() *demo.Dataset {
	// Anchored to today so the twelve months of events end now; loaded only once.
	return demo.New(demoSeed, time.Now().UTC().Truncate(24*time.Hour))
}

func ensureDemoTenant(ctx context.Context, st *store.Store) error {
	for _, t := range demoData().Tenants {
		if t.ID == demoTenantID {
			return st.UpsertTenant(ctx, storeTenant(t))
		}
	}
	return fmt.Errorf("the demo data set has no %q tenant", demoTenantID)
}

func storeTenant(t demo.Tenant) store.Tenant {
	return store.Tenant{ID: t.ID, Name: t.Name, Industry: t.Industry, Region: t.Region,
		SizeBand: t.SizeBand, Timezone: t.Timezone, DefaultLocale: t.Locale}
}

// loadDemo seeds the demo tenants, programs and participants, then loads each tenant's
// events and evidence through the API's import endpoints, as a client would. It runs once:
// a tenant that already has events is left alone.
func loadDemo(ctx context.Context, p *platform, apiURL string) error {
	ds := demoData()
	for _, t := range ds.Tenants {
		if err := p.store.UpsertTenant(ctx, storeTenant(t)); err != nil {
			return err
		}
	}
	programs := make([]store.Program, 0, len(ds.Programs))
	for _, pr := range ds.Programs {
		programs = append(programs, store.Program{TenantID: pr.TenantID, Code: pr.Code, Name: pr.Name, Description: pr.Description})
	}
	if err := p.store.UpsertPrograms(ctx, programs); err != nil {
		return err
	}
	participants := make([]store.Participant, 0, len(ds.Participants))
	for _, pa := range ds.Participants {
		participants = append(participants, store.Participant{TenantID: pa.TenantID, ID: pa.ID, FullName: pa.FullName, Email: pa.Email, Phone: pa.Phone})
	}
	if err := p.store.UpsertParticipants(ctx, participants); err != nil {
		return err
	}

	for _, t := range ds.Tenants {
		// The data set's own events, not any event: a client's import in the first seconds
		// must not make the loader skip the tenant.
		loaded, err := p.store.HasImpactEventsPrefixed(ctx, t.ID, demo.EventIDPrefix(t.ID))
		if err != nil {
			return err
		}
		if loaded {
			continue
		}
		tenantID := t.ID
		uploads := []upload{
			{"/v1/evidence", func(w io.Writer) (int, error) { return ds.WriteEvidence(w, tenantID) }},
			{"/v1/impact-events", func(w io.Writer) (int, error) { return ds.WriteEvents(w, tenantID) }},
		}
		if err := importAs(ctx, p, apiURL, t.ID, "demo loader", "demo-"+time.Now().UTC().Format(time.DateOnly), uploads); err != nil {
			return err
		}
	}
	return nil
}

// upload is one import a loader posts: the endpoint and what writes its NDJSON body.
type upload struct {
	path  string
	write func(io.Writer) (int, error)
}

// importAs posts uploads for a tenant with a short-lived operator key of the tenant's own,
// so a loader goes through the same authentication and tenant scoping as any client, and
// waits for each import job. The key is revoked at the end. Each upload's Idempotency-Key is
// idempotencyPrefix followed by its path.
func importAs(ctx context.Context, p *platform, apiURL, tenantID, loader, idempotencyPrefix string, uploads []upload) error {
	secret := store.NewKeySecret()
	key, err := p.store.CreateAPIKey(ctx, tenantID, loader, store.RoleOperator, secret)
	if err != nil {
		return err
	}
	for _, up := range uploads {
		var body bytes.Buffer
		n, err := up.write(&body)
		if err != nil {
			return err
		}
		start := time.Now()
		id, err := postImport(ctx, apiURL+up.path, secret, idempotencyPrefix+up.path, &body)
		if err != nil {
			return fmt.Errorf("%s: import for %s: %w", loader, tenantID, err)
		}
		job, err := p.jobs.Wait(ctx, tenantID, id, 5*time.Minute)
		if err != nil {
			return err
		}
		p.log.Info("demo data loaded", "tenant_id", tenantID, "endpoint", up.path, "rows", n,
			"job_id", job.ID, "status", job.Status, "duration", time.Since(start).Round(time.Millisecond))
	}
	_, err = p.store.RevokeAPIKey(ctx, tenantID, key.ID)
	return err
}

func postImport(ctx context.Context, url, key, idempotencyKey string, body io.Reader) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Idempotency-Key", idempotencyKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var job struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("%s answered %s: %s", url, resp.Status, msg)
	}
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil {
		return "", err
	}
	return job.ID, nil
}
