package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/config"
	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/sandbox/partners"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/workers"
)

// openSecretBox reads IMPACTFLOW_SECRET_KEY, which seals partner credentials and wraps the
// payload data keys; nil when it is unset (openPlatform then refuses to start).
func openSecretBox(cfg config.Config) (*secrets.Box, error) {
	if cfg.SecretKey == "" {
		return nil, nil
	}
	box, err := secrets.Parse(cfg.SecretKey.Reveal())
	if err != nil {
		return nil, fmt.Errorf("config: IMPACTFLOW_SECRET_KEY %v", err)
	}
	return box, nil
}

// devSecretKey is IMPACTFLOW_SECRET_KEY, else the key kept in DATA_DIR, else a new one
// written there (dev mode only: production sets the variable); created says it is new.
func devSecretKey(cfg config.Config) (key config.Secret, created bool, err error) {
	if kept, ok := keptSecretKey(cfg); ok {
		return kept, false, nil
	}
	path := devSecretKeyPath(cfg)
	fresh := secrets.NewKey()
	if err := os.WriteFile(path, []byte(fresh+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	return config.Secret(fresh), true, nil
}

// keptSecretKey is IMPACTFLOW_SECRET_KEY, else the key dev keeps in DATA_DIR; false when
// there is neither.
func keptSecretKey(cfg config.Config) (config.Secret, bool) {
	if cfg.SecretKey != "" {
		return cfg.SecretKey, true
	}
	if b, err := os.ReadFile(devSecretKeyPath(cfg)); err == nil {
		return config.Secret(strings.TrimSpace(string(b))), true
	}
	return "", false
}

func devSecretKeyPath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "secret-key") }

// deliveryDeps configures the delivery workers from the platform.
func (p *platform) deliveryDeps() workers.DeliveryDeps {
	return workers.DeliveryDeps{
		Box: p.box, URLs: p.partnerURLs, Jobs: p.jobs, AttemptTimeout: p.cfg.DeliveryAttemptTimeout,
		GooderaLimit: p.cfg.GooderaRequestsPerMin, GooderaWindow: time.Minute,
	}
}

func partnerURLs(cfg config.Config) map[connectors.Partner]string {
	out := map[connectors.Partner]string{}
	for name, u := range cfg.PartnerURLs {
		out[connectors.Partner(name)] = u
	}
	return out
}

// startDevSandboxes starts a local sandbox for each partner without a configured URL and
// gives the demo tenant credentials for it (kept sealed in Postgres, so they survive a
// restart). Returns a function that stops them.
func startDevSandboxes(ctx context.Context, p *platform) (func(), error) {
	var servers []*partners.Server
	urlsFile := filepath.Join(p.cfg.DataDir, sandboxURLsFile)
	stop := func() {
		for _, s := range servers {
			_ = s.Close()
		}
		_ = os.Remove(urlsFile)
	}
	started := map[string]string{}
	for _, partner := range connectors.Partners {
		if p.partnerURLs[partner] != "" {
			continue
		}
		creds, err := demoCredentials(ctx, p, partner)
		if err != nil {
			stop()
			return nil, err
		}
		srv, err := partners.Serve("127.0.0.1:0", sandboxFor(partner, creds, p.cfg.GooderaRequestsPerMin))
		if err != nil {
			stop()
			return nil, fmt.Errorf("start %s sandbox: %w", partner, err)
		}
		servers = append(servers, srv)
		p.partnerURLs[partner] = srv.URL
		started[string(partner)] = srv.URL
		p.log.Info("partner sandbox started (set the partner's URL variable for the real API)", "partner", partner, "url", srv.URL)
	}
	// `impactflow bench delivery` finds the sandboxes (and their fault controls) here.
	b, _ := json.Marshal(started)
	if err := os.WriteFile(urlsFile, b, 0o644); err != nil {
		stop()
		return nil, fmt.Errorf("write %s: %w", urlsFile, err)
	}
	return stop, nil
}

// sandboxURLsFile, under DATA_DIR, lists the running dev sandboxes by partner.
const sandboxURLsFile = "partner-sandboxes.json"

func sandboxFor(partner connectors.Partner, c connectors.Credentials, gooderaPerMin int) http.Handler {
	switch partner {
	case connectors.Benevity:
		b := partners.NewBenevity()
		b.SetSecrets(c.AccountID, c.SigningSecret)
		return b
	case connectors.Goodera:
		g := partners.NewGoodera(gooderaPerMin, time.Minute)
		g.AddClient(c.ClientID, c.ClientSecret)
		return g
	default:
		w := partners.NewWorkday()
		w.AddUser(c.WorkdayTenant, c.Username, c.Password)
		w.AddClient(c.WorkdayTenant, c.ClientID, c.ClientSecret)
		return w
	}
}

// demoCredentials returns the demo tenant's stored credentials for the partner, creating
// random ones the first time.
func demoCredentials(ctx context.Context, p *platform, partner connectors.Partner) (connectors.Credentials, error) {
	ad := []byte(demoTenantID + "/" + string(partner))
	sc, err := p.store.PartnerCredentials(ctx, demoTenantID, string(partner))
	if err == nil {
		raw, oerr := p.box.Open(secrets.Sealed{KeyID: sc.KeyID, Ciphertext: sc.Sealed}, ad)
		var c connectors.Credentials
		if oerr == nil && json.Unmarshal(raw, &c) == nil {
			return c, nil
		}
		// Sealed with a key this DATA_DIR no longer has: replace them.
	} else if !errors.Is(err, store.ErrNotFound) {
		return connectors.Credentials{}, err
	}
	c := connectors.Credentials{
		AccountID: "demo-account", SigningSecret: randomToken(),
		ClientID: "demo-client", ClientSecret: randomToken(),
		Protocol: connectors.ProtocolSOAP, WorkdayTenant: "demo_tenant", Username: "isu_impactflow", Password: randomToken(),
	}
	sealed, err := deliveries.SealCredentials(p.box, demoTenantID, partner, c)
	if err != nil {
		return c, err
	}
	return c, p.store.PutPartnerCredentials(ctx, demoTenantID, string(partner), sealed)
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
