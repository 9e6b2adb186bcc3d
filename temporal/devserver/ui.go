package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// uiAddr is where the UI listens; the zero value means no UI.
type uiAddr struct {
	ip   string
	port int
}

// uiServer is the Temporal UI served from this process; its assets are embedded in ui-server.
type uiServer struct {
	server *uiserver.Server
	url    string
	done   chan error // receives what Start returned, once
}

// startUI serves the UI on addr against the frontend and returns once its API answers. On
// error it may still return a server, which the caller must stop. ui-server exits the whole
// process (log.Fatal) when it cannot listen, which is why the caller checks the port first.
func startUI(ctx context.Context, addr uiAddr, frontendAddr, namespace, codecEndpoint string, logger *slog.Logger) (*uiServer, error) {
	cfg := &uiconfig.Config{
		Host:                addr.ip,
		Port:                addr.port,
		TemporalGRPCAddress: frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// Development machines may have no internet, and nothing should phone home. (This
		// ui-server version has no NotifyOnNewVersion; an empty FeedbackURL keeps the UI's
		// default link, which is only followed when clicked.)
		DisableNewsFetch: true,
		// Plain HTTP on loopback: a Secure CSRF cookie would be dropped by the browser and
		// every write action (cancel, reset, signal) would fail.
		CORS: uiconfig.CORS{CookieInsecure: true},
		// Otherwise echo prints a banner and a line per request on stdout.
		HideLogs: true,
	}
	if codecEndpoint != "" {
		// The browser calls the codec itself, with the operator's codec session cookie
		// (IncludeCredentials); the UI has no token of ours to pass. Without a session the
		// call fails and the UI shows the payloads encrypted, with a link to sign in.
		cfg.Codec = uiconfig.Codec{
			Endpoint:            codecEndpoint,
			IncludeCredentials:  true,
			DefaultErrorMessage: "Payloads are encrypted. Sign in with an operator key to read your tenant's.",
			DefaultErrorLink:    codecEndpoint + "/signin",
		}
	}
	srv := uiserver.NewServer(server_options.WithConfigProvider(cfg))

	dialIP := addr.ip
	if net.ParseIP(dialIP).IsUnspecified() {
		dialIP = localIP
	}
	ui := &uiServer{
		server: srv,
		url:    "http://" + net.JoinHostPort(dialIP, strconv.Itoa(addr.port)),
		done:   make(chan error, 1),
	}
	go func() {
		err := srv.Start() // blocks until Stop
		if err != nil {
			logger.Error("temporal UI stopped", slog.Any("error", err))
		}
		ui.done <- err
	}()
	return ui, ui.waitReady(ctx, namespace)
}

// waitReady polls the namespaces API, which proves both that the UI listens and that it
// reaches the frontend; it fails early if Start returned.
func (u *uiServer) waitReady(ctx context.Context, namespace string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	endpoint := u.url + "/api/v1/namespaces/" + url.PathEscape(namespace)
	interval := 5 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for temporal UI at %s: %w (last: %w)", u.url, ctx.Err(), lastErr)
		case err := <-u.done:
			u.done <- err // leave it for stop
			return fmt.Errorf("temporal UI exited during start: %w", err)
		case <-timer.C:
		}
		lastErr = probe(ctx, hc, endpoint)
		if lastErr == nil {
			return nil
		}
		timer.Reset(interval)
		interval = min(2*interval, 200*time.Millisecond)
	}
}

func probe(ctx context.Context, hc *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", endpoint, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %s", endpoint, resp.Status)
	}
	return nil
}

// stop closes the listener and waits for Start to return.
func (u *uiServer) stop() error {
	u.server.Stop()
	select {
	case err := <-u.done:
		if err != nil {
			return fmt.Errorf("stop temporal UI: %w", err)
		}
		return nil
	case <-time.After(2 * time.Second):
		return errors.New("stop temporal UI: still running after 2s")
	}
}
