// Package config loads impactflow's settings from environment variables, once, in main.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/secrets"
)

// Secret is a setting that must never reach logs, errors or workflow payloads.
type Secret string

// String hides the value from fmt.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// Format hides the value from every other fmt verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalText hides the value from encoders (JSON, slog's JSON handler).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Config is every setting of the binary. Each field has a default that works on a
// developer machine; Load validates them all and names the first bad variable.
type Config struct {
	DatabaseURL       string
	RedisURL          string
	TemporalAddress   string
	TemporalNamespace string
	TemporalUIAddr    string
	TemporalRetention time.Duration
	ClickHouseURL     string
	CHDBLibPath       string
	HTTPAddr          string
	DataDir           string
	OpenAIAPIKey      Secret
	LLMBaseURL        string
	LLMModel          string
	SendGridAPIKey    Secret
	SecretKey         Secret
	DevAPIKey         Secret
	MaxBodyBytes      int64
	MaxImportBytes    int64
	LogLevel          slog.Level
	LogFormat         string
	DemoData          bool
	DebugAddr         string

	// AI reports (issue 3).
	AIBudgetDefaultMicros int64
	LLMPrices             llm.Prices
	RedactionAggressive   bool
	RedactionNames        []string
	// Partner deliveries.
	PartnerURLs            map[string]string // partner → base URL; a missing one means its sandbox (dev) or unconfigured
	GooderaRequestsPerMin  int
	DeliveryAttemptTimeout time.Duration
	// Notifications.
	SendGridBaseURL          string
	EmailFrom                string
	SendGridWebhookPublicKey string
	TwilioAccountSID         string
	TwilioAuthToken          Secret
	TwilioFrom               string
	TwilioBaseURL            string
	FCMCredentialsFile       string
	FCMBaseURL               string
	PublicBaseURL            string
	NATSURL                  string
	NATSEventsSubject        string
	SyncInterval             time.Duration
	AnalyticsBudget          int64
	// CodecAllowedOrigins are the browser origins (the Temporal UI's) that may call the
	// API's remote codec with credentials.
	CodecAllowedOrigins []string
}

// Var describes one environment variable: the README's configuration table is this list.
type Var struct {
	Name    string
	Default string
	Help    string
}

// Vars lists every variable Load reads, with its default and meaning.
func Vars() []Var {
	return []Var{
		{"DATABASE_URL", "postgres://postgres@127.0.0.1:5432/impactflow?sslmode=disable", "Postgres holding the domain records; the database is created when missing"},
		{"REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for caches and quotas"},
		{"TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend (gRPC); `dev` and `temporal` serve it in-process here"},
		{"TEMPORAL_NAMESPACE", "default", "Temporal namespace of every workflow; created by `dev`/`temporal` when missing"},
		{"TEMPORAL_UI_ADDR", "127.0.0.1:8233", "where `dev`/`temporal` serve the Temporal UI"},
		{"CODEC_ALLOWED_ORIGINS", "", "origins (comma-separated) of the Temporal UI that may call /codec with an operator's session; default http://TEMPORAL_UI_ADDR"},
		{"TEMPORAL_RETENTION", "168h", "how long closed workflows and their histories are kept (namespace retention)"},
		{"CLICKHOUSE_URL", "", "ClickHouse server; when empty the embedded chDB engine is used"},
		{"CHDB_LIB_PATH", "$HOME/.cache/impactflow/chdb/libchdb.so", "libchdb.so for the embedded ClickHouse engine (installed by `make run`)"},
		{"HTTP_ADDR", "127.0.0.1:8080", "API listen address"},
		{"DATA_DIR", "./.data", "Temporal's SQLite file, chDB data, the dev API key"},
		{"OPENAI_API_KEY", "", "LLM provider key; empty means the offline extractive writer"},
		{"LLM_BASE_URL", "https://api.openai.com/v1", "any OpenAI-compatible base URL"},
		{"LLM_MODEL", "gpt-4o-mini", "default model for reports"},
		{"SENDGRID_API_KEY", "", "SendGrid key; empty means the Postgres outbox"},
		{"IMPACTFLOW_SECRET_KEY", "", "base64 32-byte key (or id:key,id:key for a rotation) sealing partner credentials and the data keys of Temporal payloads; required by api and worker (dev: generated and stored under DATA_DIR)"},
		{"IMPACTFLOW_DEV_API_KEY", "", "dev mode: the demo admin key to seed; random and printed when unset"},
		{"MAX_BODY_BYTES", "1048576", "largest JSON request body accepted"},
		{"MAX_IMPORT_BYTES", "536870912", "largest import upload accepted (POST /v1/impact-events, /v1/evidence)"},
		{"LOG_LEVEL", "info", "debug | info | warn | error"},
		{"LOG_FORMAT", "text", "text | json"},
		{"IMPACTFLOW_DEMO_DATA", "true", "dev mode: load the demo data set through an import job on first start"},
		{"SYNC_INTERVAL", "15m", "how often the Temporal Schedule runs the incremental Postgres→ClickHouse sync"},
		{"ANALYTICS_DAILY_QUERIES", "10000", "analytics API queries each tenant may make per UTC day (429 beyond)"},
		{"DEBUG_ADDR", "", "when set (e.g. 127.0.0.1:6060), serve Go's pprof profiles there; keep it off public interfaces"},
		{"AI_BUDGET_DEFAULT_USD", "100", "monthly AI budget of a tenant without its own limit, in US dollars"},
		{"LLM_PRICES", "", "price overrides, dollars per million input/output tokens: `model=0.15/0.60,*=5/15` (`*` is the price of unlisted models)"},
		{"REDACTION_AGGRESSIVE", "false", "true keeps people's names redacted in reports unless a tenant allows them"},
		{"REDACTION_NAMES", "", "extra names (comma-separated) the redactor treats as people, on top of participant records"},
		{"BENEVITY_URL", "", "Benevity API base URL; when empty `dev` starts the local Benevity sandbox"},
		{"GOODERA_URL", "", "Goodera API base URL; when empty `dev` starts the local Goodera sandbox"},
		{"WORKDAY_URL", "", "Workday base URL (SOAP and REST); when empty `dev` starts the local Workday sandbox"},
		{"GOODERA_REQUESTS_PER_MINUTE", "100", "Goodera's rate limit, enforced by the Temporal task queue of Goodera sends across all workers"},
		{"DELIVERY_ATTEMPT_TIMEOUT", "30s", "how long one HTTP exchange with a partner may take before the attempt fails and is retried"},
		{"SENDGRID_BASE_URL", "https://api.sendgrid.com", "SendGrid API host (tests and benchmarks point it at the local sandbox)"},
		{"NOTIFY_EMAIL_FROM", "notifications@impactflow.local", "sender address of notification email"},
		{"SENDGRID_WEBHOOK_PUBLIC_KEY", "", "verification key of SendGrid's signed event webhook (base64 DER, as SendGrid shows it); empty refuses every SendGrid webhook call"},
		{"TWILIO_ACCOUNT_SID", "", "Twilio account for SMS; empty means no SMS provider (`dev` runs the Twilio sandbox in-process)"},
		{"TWILIO_AUTH_TOKEN", "", "Twilio auth token: basic auth for sends, and the key of X-Twilio-Signature on status callbacks"},
		{"TWILIO_FROM", "", "Twilio sender number (E.164)"},
		{"TWILIO_BASE_URL", "https://api.twilio.com", "Twilio API host"},
		{"FCM_CREDENTIALS_FILE", "", "Google service-account key file (JSON) for Firebase Cloud Messaging; empty means no push provider (`dev` runs the FCM sandbox in-process)"},
		{"FCM_BASE_URL", "https://fcm.googleapis.com", "FCM HTTP v1 API host"},
		{"PUBLIC_BASE_URL", "", "the API's public base URL as providers call it (Twilio signs it); default http://HTTP_ADDR"},
		{"NATS_URL", "", "when set, notification triggers also subscribe to events on NATS"},
		{"NATS_EVENTS_SUBJECT", "impactflow.events", "NATS subject carrying events (JSON, the shape of POST /v1/events plus tenant_id)"},
	}
}

// Load reads the environment. The error names the variable that is missing or malformed.
func Load() (Config, error) { return load(os.Getenv) }

func load(getenv func(string) string) (Config, error) {
	defaults := map[string]string{}
	for _, v := range Vars() {
		defaults[v.Name] = v.Default
	}
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return defaults[name]
	}
	var c Config
	var err error
	fail := func(name, why string) (Config, error) {
		return Config{}, fmt.Errorf("config: %s %s", name, why)
	}

	c.DatabaseURL = get("DATABASE_URL")
	if u, perr := url.Parse(c.DatabaseURL); perr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fail("DATABASE_URL", "must be a postgres:// URL")
	}
	c.RedisURL = get("REDIS_URL")
	if u, perr := url.Parse(c.RedisURL); perr != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return fail("REDIS_URL", "must be a redis:// URL")
	}
	if c.TemporalAddress, err = hostPort(get("TEMPORAL_ADDRESS")); err != nil {
		return fail("TEMPORAL_ADDRESS", err.Error())
	}
	c.TemporalNamespace = get("TEMPORAL_NAMESPACE")
	if c.TemporalUIAddr, err = hostPort(get("TEMPORAL_UI_ADDR")); err != nil {
		return fail("TEMPORAL_UI_ADDR", err.Error())
	}
	c.CodecAllowedOrigins = []string{"http://" + BrowserAddr(c.TemporalUIAddr)}
	if v := get("CODEC_ALLOWED_ORIGINS"); v != "" {
		c.CodecAllowedOrigins = nil
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimRight(strings.TrimSpace(o), "/")
			if u, perr := url.Parse(o); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				return fail("CODEC_ALLOWED_ORIGINS", "must be origins such as https://temporal.example.com, comma-separated")
			}
			c.CodecAllowedOrigins = append(c.CodecAllowedOrigins, o)
		}
	}
	if c.TemporalRetention, err = time.ParseDuration(get("TEMPORAL_RETENTION")); err != nil || c.TemporalRetention < 24*time.Hour {
		return fail("TEMPORAL_RETENTION", "must be a duration of at least 24h, e.g. 168h")
	}
	c.ClickHouseURL = get("CLICKHOUSE_URL")
	if c.ClickHouseURL != "" {
		if u, perr := url.Parse(c.ClickHouseURL); perr != nil || u.Scheme == "" || u.Host == "" {
			return fail("CLICKHOUSE_URL", "must be a URL such as clickhouse://host:9000/db")
		}
	}
	c.CHDBLibPath = get("CHDB_LIB_PATH")
	if strings.HasPrefix(c.CHDBLibPath, "$HOME/") {
		home, herr := os.UserHomeDir()
		if herr != nil {
			return fail("CHDB_LIB_PATH", "has no default without a home directory; set it")
		}
		c.CHDBLibPath = filepath.Join(home, strings.TrimPrefix(c.CHDBLibPath, "$HOME/"))
	}
	if c.HTTPAddr, err = hostPort(get("HTTP_ADDR")); err != nil {
		return fail("HTTP_ADDR", err.Error())
	}
	if c.DataDir, err = filepath.Abs(get("DATA_DIR")); err != nil {
		return fail("DATA_DIR", err.Error())
	}
	c.OpenAIAPIKey = Secret(get("OPENAI_API_KEY"))
	c.LLMBaseURL = get("LLM_BASE_URL")
	if u, perr := url.Parse(c.LLMBaseURL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fail("LLM_BASE_URL", "must be an http(s) URL")
	}
	c.LLMModel = get("LLM_MODEL")
	c.SendGridAPIKey = Secret(get("SENDGRID_API_KEY"))
	c.SecretKey = Secret(get("IMPACTFLOW_SECRET_KEY"))
	c.DevAPIKey = Secret(get("IMPACTFLOW_DEV_API_KEY"))
	if c.MaxBodyBytes, err = positiveInt(get("MAX_BODY_BYTES")); err != nil {
		return fail("MAX_BODY_BYTES", err.Error())
	}
	if c.MaxImportBytes, err = positiveInt(get("MAX_IMPORT_BYTES")); err != nil {
		return fail("MAX_IMPORT_BYTES", err.Error())
	}
	if err = c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		return fail("LOG_LEVEL", "must be debug, info, warn or error")
	}
	c.LogFormat = get("LOG_FORMAT")
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fail("LOG_FORMAT", "must be text or json")
	}
	if c.DemoData, err = strconv.ParseBool(get("IMPACTFLOW_DEMO_DATA")); err != nil {
		return fail("IMPACTFLOW_DEMO_DATA", "must be true or false")
	}
	if v := get("DEBUG_ADDR"); v != "" {
		if c.DebugAddr, err = hostPort(v); err != nil {
			return fail("DEBUG_ADDR", err.Error())
		}
	}
	usd, perr := strconv.ParseFloat(get("AI_BUDGET_DEFAULT_USD"), 64)
	if perr != nil || usd < 0 {
		return fail("AI_BUDGET_DEFAULT_USD", "must be a non-negative number of dollars")
	}
	c.AIBudgetDefaultMicros = int64(usd * 1e6)
	if c.LLMPrices, err = llm.ParsePrices(get("LLM_PRICES")); err != nil {
		return fail("LLM_PRICES", err.Error())
	}
	if c.RedactionAggressive, err = strconv.ParseBool(get("REDACTION_AGGRESSIVE")); err != nil {
		return fail("REDACTION_AGGRESSIVE", "must be true or false")
	}
	for _, n := range strings.Split(get("REDACTION_NAMES"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.RedactionNames = append(c.RedactionNames, n)
		}
	}
	c.PartnerURLs = map[string]string{}
	for _, p := range [][2]string{{"benevity", "BENEVITY_URL"}, {"goodera", "GOODERA_URL"}, {"workday", "WORKDAY_URL"}} {
		v := get(p[1])
		if v == "" {
			continue
		}
		if u, perr := url.Parse(v); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail(p[1], "must be an http(s) URL")
		}
		c.PartnerURLs[p[0]] = strings.TrimRight(v, "/")
	}
	n, err := positiveInt(get("GOODERA_REQUESTS_PER_MINUTE"))
	if err != nil {
		return fail("GOODERA_REQUESTS_PER_MINUTE", err.Error())
	}
	c.GooderaRequestsPerMin = int(n)
	if c.DeliveryAttemptTimeout, err = time.ParseDuration(get("DELIVERY_ATTEMPT_TIMEOUT")); err != nil || c.DeliveryAttemptTimeout < time.Second || c.DeliveryAttemptTimeout > 10*time.Minute {
		return fail("DELIVERY_ATTEMPT_TIMEOUT", "must be a duration between 1s and 10m, e.g. 30s")
	}
	if c.SecretKey != "" {
		if _, kerr := secrets.Parse(c.SecretKey.Reveal()); kerr != nil {
			return fail("IMPACTFLOW_SECRET_KEY", "must be a base64 32-byte key, or id:key,id:key for a rotation ("+kerr.Error()+")")
		}
	}
	if err := c.loadNotifications(get); err != nil {
		return Config{}, err
	}
	if c.SyncInterval, err = time.ParseDuration(get("SYNC_INTERVAL")); err != nil || c.SyncInterval < time.Minute {
		return fail("SYNC_INTERVAL", "must be a duration of at least 1m, e.g. 15m")
	}
	if c.AnalyticsBudget, err = positiveInt(get("ANALYTICS_DAILY_QUERIES")); err != nil {
		return fail("ANALYTICS_DAILY_QUERIES", err.Error())
	}
	return c, nil
}

// loadNotifications reads the notification providers' settings.
func (c *Config) loadNotifications(get func(string) string) error {
	fail := func(name, why string) error { return fmt.Errorf("config: %s %s", name, why) }
	httpURL := func(name string) (string, error) {
		v := get(name)
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fail(name, "must be an http(s) URL")
		}
		return strings.TrimRight(v, "/"), nil
	}
	var err error
	if c.SendGridBaseURL, err = httpURL("SENDGRID_BASE_URL"); err != nil {
		return err
	}
	c.EmailFrom = get("NOTIFY_EMAIL_FROM")
	if !strings.Contains(c.EmailFrom, "@") || strings.ContainsAny(c.EmailFrom, " <>") {
		return fail("NOTIFY_EMAIL_FROM", "must be an email address")
	}
	c.SendGridWebhookPublicKey = get("SENDGRID_WEBHOOK_PUBLIC_KEY")
	c.TwilioAccountSID = get("TWILIO_ACCOUNT_SID")
	c.TwilioAuthToken = Secret(get("TWILIO_AUTH_TOKEN"))
	c.TwilioFrom = get("TWILIO_FROM")
	if c.TwilioAccountSID != "" && (c.TwilioAuthToken == "" || c.TwilioFrom == "") {
		return fail("TWILIO_AUTH_TOKEN", "and TWILIO_FROM are required with TWILIO_ACCOUNT_SID")
	}
	if c.TwilioBaseURL, err = httpURL("TWILIO_BASE_URL"); err != nil {
		return err
	}
	c.FCMCredentialsFile = get("FCM_CREDENTIALS_FILE")
	if c.FCMBaseURL, err = httpURL("FCM_BASE_URL"); err != nil {
		return err
	}
	if get("PUBLIC_BASE_URL") == "" {
		c.PublicBaseURL = "http://" + c.HTTPAddr
	} else if c.PublicBaseURL, err = httpURL("PUBLIC_BASE_URL"); err != nil {
		return err
	}
	c.NATSURL = get("NATS_URL")
	if c.NATSURL != "" {
		if u, perr := url.Parse(c.NATSURL); perr != nil || (u.Scheme != "nats" && u.Scheme != "tls") {
			return fail("NATS_URL", "must be a nats:// URL")
		}
	}
	c.NATSEventsSubject = get("NATS_EVENTS_SUBJECT")
	return nil
}

func hostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("must be host:port (got %q)", s)
	}
	if n, perr := strconv.Atoi(port); perr != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("has a bad port in %q", s)
	}
	return net.JoinHostPort(host, port), nil
}

func positiveInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("must be a positive integer (got %q)", s)
	}
	return n, nil
}

// Logger builds the process logger from LOG_LEVEL and LOG_FORMAT, writing to w.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// BrowserAddr is host:port as a browser on this machine reaches it: a server listening on
// every interface (0.0.0.0, ::) is reached at 127.0.0.1.
func BrowserAddr(hostPort string) string {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
