// Package devserver runs a real Temporal server (go.temporal.io/server) and the Temporal UI
// inside the current process, backed by SQLite, the way `temporal server start-dev` does.
// It is what `impactflow dev` and `impactflow temporal` start and what integration tests use.
// It is kept apart from package temporal because linking the server costs tens of megabytes.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	itemporal "github.com/impactflow/impactflow/temporal"
)

const (
	// localIP is where every internal service listens: nothing but this process talks to them.
	localIP = "127.0.0.1"
	// clusterName names the single cluster; it is persisted, so it must never change.
	clusterName = "active"
	// dbFileName is the SQLite file inside Options.DataDir: namespaces, histories, tasks.
	dbFileName = "temporal.db"
	// visibilityFileName holds visibility (what List and Count read) in a file of its own.
	visibilityFileName = "temporal-visibility.db"
	// visibilityStore names the visibility data store in the server config.
	visibilityStore = "sqlite-visibility"
	// defaultNamespace and defaultRetention apply when Options leaves them empty.
	defaultNamespace = "default"
	defaultRetention = 24 * time.Hour
	// stopTimeout bounds Stop: the product promises that Ctrl-C ends everything within 10 s.
	stopTimeout = 8 * time.Second
	// startTimeout bounds the readiness checks of Start when ctx has no deadline.
	startTimeout = 60 * time.Second
)

// Options configures Start.
type Options struct {
	DataDir      string        // SQLite file at DataDir/temporal.db (created with schema when new); ignored when Ephemeral
	Ephemeral    bool          // in-memory SQLite, for tests
	FrontendAddr string        // host:port of the gRPC frontend, e.g. 127.0.0.1:7233 (port 0 = pick a free one)
	UIAddr       string        // host:port of the Temporal UI, e.g. 127.0.0.1:8233; "" = no UI
	Namespace    string        // created if missing, with Retention; "" = "default"
	Retention    time.Duration // 0 = 24h
	Logger       *slog.Logger  // server logs at warn level and above go here; nil = slog.Default()
	// CodecEndpoint is the API's remote codec (http://127.0.0.1:8080/codec) the UI decodes
	// payloads with, sending the operator's codec session cookie; "" = none, the UI shows
	// payloads as stored (encrypted).
	CodecEndpoint string

	// singleFile keeps visibility in the main file, as data directories made before the
	// split have it; tests use it to make such a directory.
	singleFile bool
}

// Server is a running Temporal server, and the UI when asked for, inside this process.
type Server struct {
	server       temporal.Server
	ui           *uiServer
	client       client.Client
	frontendAddr string
	logLevel     *slog.LevelVar
	// files are the SQLite databases, for Scrub; none when ephemeral.
	files []string

	stopOnce sync.Once
	stopErr  error
}

// Start starts the server and, when Options.UIAddr is set, the UI. It returns once the frontend
// answers, the namespace exists with its retention, the search attributes of package temporal
// are registered and visible, and the UI serves its API.
func Start(ctx context.Context, opts Options) (*Server, error) {
	return start(ctx, opts, dynamicConfig())
}

// start is Start with the dynamic config as a parameter, so a benchmark can compare the
// tuning against the server's defaults.
func start(ctx context.Context, opts Options, dc dynamicconfig.StaticClient) (*Server, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	opts = withDefaults(opts)

	frontendIP, frontendPort, err := resolveListenAddr(opts.FrontendAddr)
	if err != nil {
		return nil, fmt.Errorf("frontend address %q: %w", opts.FrontendAddr, err)
	}
	// The server would log.Fatal on a taken port; checking first turns that into an error.
	if err := checkPortFree(frontendIP, frontendPort); err != nil {
		return nil, fmt.Errorf("frontend address %q: %w", opts.FrontendAddr, err)
	}
	// Clients inside this process reach a wildcard-bound frontend through loopback.
	dialIP := frontendIP
	if net.ParseIP(frontendIP).IsUnspecified() {
		dialIP = localIP
	}
	frontendAddr := net.JoinHostPort(dialIP, strconv.Itoa(frontendPort))
	var ui uiAddr
	if opts.UIAddr != "" {
		// Checked before the server starts, so that a taken UI port fails fast.
		if ui.ip, ui.port, err = resolveListenAddr(opts.UIAddr); err != nil {
			return nil, fmt.Errorf("UI address %q: %w", opts.UIAddr, err)
		}
		if err := checkPortFree(ui.ip, ui.port); err != nil {
			return nil, fmt.Errorf("UI address %q: %w", opts.UIAddr, err)
		}
	}

	sqlCfg, err := prepareDatabase(opts)
	if err != nil {
		return nil, err
	}
	visCfg := sqlCfg
	if !opts.singleFile {
		if visCfg, err = prepareVisibility(opts, sqlCfg); err != nil {
			return nil, err
		}
	}
	conf, hosts, err := serverConfig(frontendIP, frontendPort, frontendAddr, sqlCfg, visCfg)
	if err != nil {
		return nil, err
	}

	// Start with the caller's level floor at warn; Stop raises it to error because the server
	// routinely warns while its services shut down one after another.
	logLevel := &slog.LevelVar{}
	logLevel.Set(slog.LevelWarn)
	logger := slog.New(minLevelHandler{next: opts.Logger.Handler(), level: logLevel})
	srvLogger := slogAdapter{log: logger}

	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("create authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, srvLogger)
	if err != nil {
		return nil, fmt.Errorf("create claim mapper: %w", err)
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(srvLogger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dc),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	s := &Server{server: srv, frontendAddr: frontendAddr, logLevel: logLevel}
	if !opts.Ephemeral {
		s.files = []string{sqlCfg.DatabaseName}
		if visCfg != sqlCfg {
			s.files = append(s.files, visCfg.DatabaseName)
		}
	}
	if err := srv.Start(); err != nil {
		// Some services may have started; stop them rather than leak them.
		return nil, errors.Join(fmt.Errorf("start temporal server: %w", err), s.Stop())
	}
	if err := s.ready(ctx, opts, ui, logger); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// ready connects to the frontend, ensures the namespace and search attributes, and starts the
// UI if ui is set; whatever it started is left in s for Stop to end.
func (s *Server) ready(ctx context.Context, opts Options, ui uiAddr, logger *slog.Logger) error {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.frontendAddr,
		Namespace: opts.Namespace,
		Logger:    sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("connect to temporal frontend %s: %w", s.frontendAddr, err)
	}
	s.client = c
	// Also on an existing database: its retention may come from an older setting, and the
	// search attributes from an older version of package temporal.
	if err := itemporal.EnsureNamespace(ctx, c, opts.Namespace, opts.Retention); err != nil {
		return err
	}
	if err := itemporal.EnsureSearchAttributes(ctx, c, opts.Namespace); err != nil {
		return err
	}
	if ui.ip == "" {
		return nil
	}
	s.ui, err = startUI(ctx, ui, s.frontendAddr, opts.Namespace, opts.CodecEndpoint, logger)
	return err
}

// FrontendAddr is the host:port clients dial to reach the gRPC frontend.
func (s *Server) FrontendAddr() string { return s.frontendAddr }

// UIURL is the base URL of the Temporal UI, or "" when it was not started.
func (s *Server) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// Stop stops the UI, then the server. It returns within stopTimeout even if the server hangs,
// so that Ctrl-C always ends the process quickly; calling it again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.logLevel.Set(slog.LevelError)
		var errs []error
		if s.ui != nil {
			errs = append(errs, s.ui.stop())
		}
		if s.client != nil {
			s.client.Close()
		}
		done := make(chan error, 1)
		go func() { done <- s.server.Stop() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
			}
		case <-time.After(stopTimeout):
			errs = append(errs, fmt.Errorf("stop temporal server: still running after %s", stopTimeout))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func withDefaults(opts Options) Options {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Namespace == "" {
		opts.Namespace = defaultNamespace
	}
	if opts.Retention == 0 {
		opts.Retention = defaultRetention
	}
	if opts.FrontendAddr == "" {
		opts.FrontendAddr = net.JoinHostPort(localIP, "7233")
	}
	return opts
}

// prepareDatabase returns the SQLite settings; a new database file gets the schema, and a
// missing namespace is created with its search attributes, before the server opens the file.
func prepareDatabase(opts Options) (*config.SQL, error) {
	cfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}}
	if opts.Ephemeral {
		// The sqlite plugin creates the schema itself for in-memory databases. The name must be
		// unique: the plugin keeps connections in a process-wide pool keyed by the DSN.
		cfg.ConnectAttributes["mode"] = "memory"
		cfg.ConnectAttributes["cache"] = "shared"
		cfg.DatabaseName = fmt.Sprintf("devserver-%d-%d", os.Getpid(), time.Now().UnixNano())
		return cfg, createNamespace(cfg, opts)
	}
	if opts.DataDir == "" {
		return nil, errors.New("devserver: DataDir is required unless Ephemeral")
	}
	if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	cfg.DatabaseName = filepath.Join(opts.DataDir, dbFileName)
	cfg.ConnectAttributes["mode"] = "rwc"
	// Without these every commit is a full fsync of a rollback journal (~40 workflows/s);
	// WAL with normal sync measured ~2.5x faster and only risks the last commits on power
	// loss, never corruption. The keys carry no leading "_": the plugin turns every unknown
	// attribute into `_pragma=<key>=<value>`, and SQLite silently ignores unknown pragmas.
	cfg.ConnectAttributes["journal_mode"] = "wal"
	cfg.ConnectAttributes["synchronous"] = "normal"
	// Deleted rows are overwritten with zeros, not left in free pages: an erased
	// participant's or a deleted tenant's runs must not survive in the file (see Scrub).
	cfg.ConnectAttributes["secure_delete"] = "on"

	_, err := os.Stat(cfg.DatabaseName)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := sqliteschema.SetupSchema(cfg); err != nil {
			// A half-built file would be taken for a good one on the next start.
			_ = os.Remove(cfg.DatabaseName)
			return nil, fmt.Errorf("set up temporal database schema: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("check temporal database: %w", err)
	}
	return cfg, createNamespace(cfg, opts)
}

// createNamespace writes the namespace straight into the database unless it is there already,
// so that it and its search attributes exist before any service starts. Registering it through
// the API instead would make the first calls wait: the frontend caches the miss of the lookup
// that found it missing for about a second.
func createNamespace(cfg *config.SQL, opts Options) error {
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, itemporal.SearchAttributes())
	if err != nil {
		return fmt.Errorf("namespace %s config: %w", opts.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqliteschema.CreateNamespaces(cfg, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}
	return nil
}

// serverConfig builds a single-process cluster: one history shard, frontend on the requested
// address, every other service on a free loopback port, static membership (no ringpop), no
// metrics listener (a nil metrics config means a no-op handler), no pprof, no archival.
func serverConfig(
	frontendIP string,
	frontendPort int,
	frontendAddr string,
	sqlCfg, visCfg *config.SQL,
) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	conf := &config.Config{}
	conf.Global.Membership.BroadcastAddress = localIP
	conf.Persistence.DefaultStore = sqliteplugin.PluginName
	conf.Persistence.VisibilityStore = visibilityStore
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{
		sqliteplugin.PluginName: {SQL: sqlCfg},
		visibilityStore:         {SQL: visCfg},
	}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontendAddr},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The worker service's own SDK client dials this.
	conf.PublicClient.HostPort = frontendAddr

	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{GRPCPort: frontendPort, BindOnIP: frontendIP}},
	}
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(frontendAddr),
	}
	for _, svc := range []primitives.ServiceName{
		primitives.HistoryService, primitives.MatchingService, primitives.WorkerService,
	} {
		port, err := freePort(localIP)
		if err != nil {
			return nil, nil, fmt.Errorf("port for %s service: %w", svc, err)
		}
		conf.Services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: localIP}}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(localIP, strconv.Itoa(port)))
	}
	return conf, hosts, nil
}

// dynamicConfig tunes the server for one process on one machine, where the defaults (made for
// multi-host clusters protecting shared databases) mostly add latency.
func dynamicConfig() dynamicconfig.StaticClient {
	const fast = 10000
	return dynamicconfig.StaticClient{
		// Each history queue reader is rate limited to 20 polls/s by default, which adds
		// ~50 ms to every hand-off (transfer: workflow -> matching; timer: timeouts, retries,
		// workflow.Sleep; visibility: what List queries see; outbound: Nexus and callbacks).
		// One workflow then takes ~100 ms end to end instead of single-digit milliseconds.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   fast,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():      fast,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): fast,
		dynamicconfig.OutboundProcessorMaxPollRPS.Key():   fast,

		// DeleteWorkflowExecution of a closed workflow waits until the transfer and the
		// visibility queues' saved ack levels pass the workflow's close tasks, and those
		// levels are saved every 30 s by default: an erasure or a tenant's deletion waited up
		// to 35 s for histories long since closed. A one-second save costs one small write
		// per queue a second.
		dynamicconfig.TransferProcessorUpdateAckInterval.Key():   time.Second,
		dynamicconfig.VisibilityProcessorUpdateAckInterval.Key(): time.Second,

		// A history long poll (GetWorkflowExecutionHistory with WaitNewEvent, which is what
		// client run.Get and workflow-result waits use) listens on a one-slot channel, and the
		// server drops a notification when the slot is still full. When a workflow finishes
		// within milliseconds of its previous event (normal once the RPS limits above are
		// raised) the close notification is lost in ~0.5% of waits, and the caller waits out
		// the whole interval (20 s by default) for a workflow that finished long ago. A short
		// interval bounds that stall; an idle waiter re-polls once a second, cheap on one host.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): time.Second,

		// Return the first workflow task inline with StartWorkflowExecution when the starter
		// asks for it, skipping the trip through matching.
		dynamicconfig.EnableEagerWorkflowStart.Key(): true,
		// Likewise hand an activity scheduled on the workflow's own task queue back to the
		// worker that completed the workflow task, in the same response. The SDK asks for it
		// only when the worker has a free activity slot, and never on a queue with a rate
		// limit (TaskQueueActivitiesPerSecond: the partner queues), which the server could
		// not enforce for eager activities.
		dynamicconfig.EnableActivityEagerExecution.Key(): true,

		// Workflow updates (including waiting only for "accepted") are used by the API; the
		// defaults are on in v1.32.1 but are pinned so a server upgrade cannot turn them off.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,

		// Worker versioning APIs are off by default on a self-hosted server; on here so that
		// versioned workers can be tried locally as on Temporal Cloud.
		dynamicconfig.FrontendEnableWorkerVersioningDataAPIs.Key():     true,
		dynamicconfig.FrontendEnableWorkerVersioningWorkflowAPIs.Key(): true,
		dynamicconfig.FrontendEnableWorkerVersioningRuleAPIs.Key():     true,

		// Search attributes added at start-up must be usable at once, not after the cache's
		// refresh interval. Reads then go to the database every time, so the persistence
		// rate limits are raised in the same ratio as the Temporal CLI's dev server does.
		// The re-reads cost about 4% of the process's CPU under `bench job-start`, but
		// without them a namespace's attribute added by EnsureSearchAttributes is refused
		// ("no mapping defined") until the namespace cache refreshes, as the check in
		// TestSearchAttributesAndUI shows.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():               fast,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                45000,

		// Benchmarks start thousands of workflows at once; the per-instance API limits
		// (2400/s) would answer ResourceExhausted long before SQLite is the bottleneck.
		// Visibility (List/Count, 10/s by default) serves the jobs API and the UI.
		dynamicconfig.FrontendRPS.Key():                                  fast,
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key():           fast,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 1000,

		// Pinned to the default of a production cluster so that an ID accepted in development
		// is accepted in production.
		dynamicconfig.MaxIDLengthLimit.Key(): 1000,

		// Partitions spread a task queue over matching hosts; with one host they only add
		// latency (a task can wait in a partition no poller is polling at that moment).
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,

		// The mutable-state cache default (128,000 workflows) is sized for a cluster host;
		// like the CLI's dev server, cap it so a developer machine's memory stays bounded.
		// 8,192 still holds every open workflow of the 2,000-at-once benchmark.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,
	}
}

// resolveListenAddr splits host:port, maps "" and "localhost" to 127.0.0.1 (the server needs an
// IP) and replaces port 0 by a free port.
func resolveListenAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("parse: %w", err)
	}
	if host == "" || host == "localhost" {
		host = localIP
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("host %q is not an IP address", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port %q", portStr)
	}
	if port == 0 {
		if port, err = freePort(host); err != nil {
			return "", 0, err
		}
	}
	return host, port, nil
}

// freePort asks the kernel for a port that is free right now. Another process could take it
// before the server binds it; on one developer machine that is rare enough.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port not free: %w", err)
	}
	return l.Close()
}
