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
		loaded, err := p.store.HasImpactEvents(ctx, t.ID)
		if err != nil {
			return err
		}
		if loaded {
			continue
		}
		// A short-lived operator key of the tenant's own: the loader goes through the same
		// authentication and tenant scoping as any client.
		secret := store.NewKeySecret()
		key, err := p.store.CreateAPIKey(ctx, t.ID, "demo loader", store.RoleOperator, secret)
		if err != nil {
			return err
		}
		for _, up := range []struct {
			path  string
			write func(io.Writer, string) (int, error)
		}{{"/v1/evidence", ds.WriteEvidence}, {"/v1/impact-events", ds.WriteEvents}} {
			var body bytes.Buffer
			n, err := up.write(&body, t.ID)
			if err != nil {
				return err
			}
			start := time.Now()
			id, err := postImport(ctx, apiURL+up.path, secret, "demo-"+time.Now().UTC().Format(time.DateOnly)+up.path, &body)
			if err != nil {
				return fmt.Errorf("demo import for %s: %w", t.ID, err)
			}
			job, err := p.jobs.Wait(ctx, t.ID, id, 5*time.Minute)
			if err != nil {
				return err
			}
			p.log.Info("demo data loaded", "tenant_id", t.ID, "endpoint", up.path, "rows", n,
				"job_id", job.ID, "status", job.Status, "duration", time.Since(start).Round(time.Millisecond))
		}
		if _, err := p.store.RevokeAPIKey(ctx, t.ID, key.ID); err != nil {
			return err
		}
	}
	return nil
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
