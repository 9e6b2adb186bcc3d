package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/notify/providers"
	"github.com/impactflow/impactflow/internal/notify/quota"
	fcmsandbox "github.com/impactflow/impactflow/internal/sandbox/fcm"
	sgsandbox "github.com/impactflow/impactflow/internal/sandbox/sendgrid"
	twsandbox "github.com/impactflow/impactflow/internal/sandbox/twilio"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/workers"
)

// notifyEnv is the notification side of the harness: the SendGrid and Twilio sandboxes,
// the webhook keys the tests sign with, and the Redis prefix of this run's quotas.
var notifyEnv struct {
	sendgrid    *sgsandbox.Server
	twilio      *twsandbox.Server
	fcm         *fcmsandbox.Server
	sgKey       *ecdsa.PrivateKey
	twilioToken string
	publicURL   string
	rdb         *redis.Client
	prefix      string
}

// outboxDomain routes test email to the Postgres outbox instead of the SendGrid sandbox, so
// both email providers run in one process.
const outboxDomain = "@outbox.test"

type routedEmail struct {
	sendgrid, outbox providers.Sender
}

func (r routedEmail) Send(ctx context.Context, m providers.Message) (providers.Result, error) {
	if strings.HasSuffix(m.To, outboxDomain) {
		return r.outbox.Send(ctx, m)
	}
	return r.sendgrid.Send(ctx, m)
}

func startNotifications() (*workers.NotificationDeps, api.Notifications, func(), error) {
	n := &notifyEnv
	n.sendgrid = sgsandbox.New("SG.test-key")
	sg := httptest.NewServer(n.sendgrid)
	n.twilioToken = "twilio-test-token"
	n.twilio = twsandbox.New("ACtest", n.twilioToken)
	tw := httptest.NewServer(n.twilio)
	var err error
	if n.fcm, err = fcmsandbox.New("impactflow-test"); err != nil {
		return nil, api.Notifications{}, nil, err
	}
	fcm := httptest.NewServer(n.fcm)
	n.fcm.SetBaseURL(fcm.URL)
	account, err := providers.ParseServiceAccount(n.fcm.ServiceAccountJSON())
	if err != nil {
		return nil, api.Notifications{}, nil, err
	}
	if n.sgKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, api.Notifications{}, nil, err
	}
	n.publicURL = "https://impactflow.test"
	n.rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", PoolSize: 64})
	n.prefix = fmt.Sprintf("test-api-%d-%d:", os.Getpid(), time.Now().UnixNano())
	q := &quota.Quota{Redis: n.rdb, Prefix: n.prefix}
	senders := providers.Channels{
		providers.ChannelEmail: routedEmail{
			sendgrid: &providers.SendGrid{APIKey: "SG.test-key", Host: sg.URL, From: "noreply@impactflow.test"},
			outbox:   &providers.Outbox{Store: notifications.Outbox{Store: env.store}},
		},
		providers.ChannelSMS: &providers.Twilio{AccountSID: "ACtest", AuthToken: n.twilioToken, From: "+15005550006", Host: tw.URL,
			StatusCallback: n.publicURL + "/v1/notifications/webhooks/twilio"},
		providers.ChannelPush: &providers.FCM{Account: account, Host: fcm.URL},
	}
	stop := func() {
		sg.Close()
		tw.Close()
		fcm.Close()
		ctx := context.Background()
		if keys, _ := n.rdb.Keys(ctx, n.prefix+"*").Result(); len(keys) > 0 {
			n.rdb.Del(ctx, keys...)
		}
		n.rdb.Close()
	}
	return &workers.NotificationDeps{Quota: q, Senders: senders},
		api.Notifications{Quota: q, SendGridWebhookKey: &n.sgKey.PublicKey, TwilioAuthToken: n.twilioToken, PublicURL: n.publicURL},
		stop, nil
}

// newTenant makes a tenant of its own for a test, with an admin key.
func newTenant(t *testing.T, id, tz string) string {
	t.Helper()
	ctx := context.Background()
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: id, Name: strings.ToUpper(id[:1]) + id[1:], Industry: "tech", Region: "eu",
		SizeBand: "1-50", Timezone: tz, DefaultLocale: "en"}); err != nil {
		t.Fatal(err)
	}
	secret := store.NewKeySecret()
	if _, err := env.store.CreateAPIKey(ctx, id, "admin", store.RoleAdmin, secret); err != nil {
		t.Fatal(err)
	}
	return secret
}

func welcome(to ...string) map[string]any {
	return map[string]any{"channel": "email", "to": to, "template": "welcome", "locale": "fr",
		"data": map[string]any{"name": "Ada <b>", "tenant_name": "Acme", "login_url": "https://app.example.com/login"}}
}

func postWithKey(t *testing.T, path, key string, body any, idem string) response {
	t.Helper()
	b, _ := json.Marshal(body)
	if idem == "" {
		return call(t, http.MethodPost, path, key, "application/json", bytes.NewReader(b))
	}
	return call(t, http.MethodPost, path, key, "application/json", bytes.NewReader(b), "Idempotency-Key", idem)
}

func acceptedByRecipient(to string) []sgsandbox.Accepted {
	var out []sgsandbox.Accepted
	for _, a := range notifyEnv.sendgrid.Accepted() {
		if a.Mail.Personalizations[0].To[0].Email == to {
			out = append(out, a)
		}
	}
	return out
}

func notification(t *testing.T, id, key string) map[string]any {
	t.Helper()
	r := getJSON(t, "/v1/notifications/"+id, key)
	if r.Status != http.StatusOK {
		t.Fatalf("GET notification: %d %s", r.Status, r.Raw)
	}
	return r.Body
}

func messages(n map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := n["messages"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestNotificationSendThroughSendGridOnce(t *testing.T) {
	key := env.keys["acme/operator"]
	body := welcome("ada@example.com", "grace@example.com")
	r := postWithKey(t, "/v1/notifications/send", key, body, "welcome-ada-1")
	if r.Status != http.StatusAccepted || !strings.HasPrefix(r.Header.Get("Location"), "/v1/jobs/notification-") {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if again := postWithKey(t, "/v1/notifications/send", key, body, "welcome-ada-1"); again.Status != http.StatusAccepted || again.Body["id"] != id {
		t.Fatalf("retry with the same Idempotency-Key: %d %s", again.Status, again.Raw)
	}
	done := waitJob(t, id, key)
	if done.Body["status"] != "completed" {
		t.Fatalf("job: %s", done.Raw)
	}
	recordHistory(t, id, "notification")
	// A third request with the key, after the send, still sends nothing more.
	postWithKey(t, "/v1/notifications/send", key, body, "welcome-ada-1")

	acc := acceptedByRecipient("ada@example.com")
	if len(acc) != 1 {
		t.Fatalf("SendGrid sandbox accepted %d messages for ada, want exactly 1", len(acc))
	}
	m := acc[0].Mail
	if !strings.Contains(m.Subject, "Bienvenue") || !strings.Contains(m.Content[1].Value, "Ada &lt;b&gt;") || m.CustomArgs[providers.ArgNotificationID] != id {
		t.Fatalf("mail as SendGrid received it: subject %q, custom args %v", m.Subject, m.CustomArgs)
	}
	n := notification(t, id, key)
	msgs := messages(n)
	if n["status"] != "sent" || len(msgs) != 2 || msgs[0]["status"] != "sent" || msgs[0]["provider"] != "sendgrid" || msgs[0]["provider_message_id"] != acc[0].MessageID {
		t.Fatalf("notification %v", n)
	}
	// Another tenant cannot see it.
	if r := getJSON(t, "/v1/notifications/"+id, env.keys["globex/viewer"]); r.Status != http.StatusNotFound {
		t.Fatalf("other tenant: %d", r.Status)
	}
}

func TestNotificationValidation(t *testing.T) {
	key := env.keys["acme/operator"]
	missing := welcome("ada@example.com")
	delete(missing["data"].(map[string]any), "login_url")
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"missing variable", missing, "data"},
		{"bad channel", map[string]any{"channel": "fax", "to": []string{"x"}, "body": "hi"}, "channel"},
		{"bad address", map[string]any{"channel": "email", "to": []string{"not-an-address"}, "subject": "s", "body": "b"}, "to[0]"},
		{"bad phone", map[string]any{"channel": "sms", "to": []string{"0612"}, "body": "b"}, "to[0]"},
		{"unknown template", map[string]any{"channel": "email", "to": []string{"a@example.com"}, "template": "nope"}, "template"},
		{"bad locale", map[string]any{"channel": "sms", "to": []string{"+14155550100"}, "body": "b", "locale": "de"}, "locale"},
		{"send_at on send", map[string]any{"channel": "sms", "to": []string{"+14155550100"}, "body": "b", "send_at": time.Now().Add(time.Hour)}, "send_at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := postWithKey(t, "/v1/notifications/send", key, c.body, "")
			if r.Status != http.StatusBadRequest || r.errorField() != c.field {
				t.Fatalf("%d field %q, want 400 naming %q: %s", r.Status, r.errorField(), c.field, r.Raw)
			}
		})
	}
	if r := postWithKey(t, "/v1/notifications/send", env.keys["acme/viewer"], welcome("a@example.com"), ""); r.Status != http.StatusForbidden {
		t.Fatalf("viewer send: %d", r.Status)
	}
}

func TestNotificationQuotaExactUnderConcurrency(t *testing.T) {
	key := newTenant(t, "initech", "UTC")
	if r := call(t, http.MethodPut, "/v1/notifications/quota/email", key, "application/json", strings.NewReader(`{"daily_limit": 100}`)); r.Status != http.StatusOK {
		t.Fatalf("set quota: %d %s", r.Status, r.Raw)
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var ids []string
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Go(func() {
			r := postWithKey(t, "/v1/notifications/send", key, map[string]any{"channel": "email",
				"to": []string{fmt.Sprintf("user%d%s", i, outboxDomain)}, "subject": "Hi", "body": "Hello"}, "")
			mu.Lock()
			defer mu.Unlock()
			codes[r.Status]++
			if r.Status == http.StatusAccepted {
				ids = append(ids, r.Body["id"].(string))
			} else if r.Status == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
	wg.Wait()
	if codes[http.StatusAccepted] != 100 || codes[http.StatusTooManyRequests] != 100 {
		t.Fatalf("answers %v, want exactly 100 accepted and 100 over quota", codes)
	}
	q := getJSON(t, "/v1/notifications/quota", key)
	chs, _ := q.Body["channels"].([]any)
	email := chs[0].(map[string]any)
	if email["channel"] != "email" || num(email, "used") != 100 || num(email, "remaining") != 0 || num(email, "limit") != 100 {
		t.Fatalf("quota %s", q.Raw)
	}
	// Every accepted one is sent, and the workflows' own check does not count them again.
	for _, id := range ids[:5] {
		if r := waitJob(t, id, key); r.Body["status"] != "completed" {
			t.Fatalf("job %s", r.Raw)
		}
	}
	if q := getJSON(t, "/v1/notifications/quota", key); num(q.Body["channels"].([]any)[0].(map[string]any), "used") != 100 {
		t.Fatalf("quota after sends %s", q.Raw)
	}
}

func TestNotificationOutboxShowsRenderedEmail(t *testing.T) {
	key := env.keys["acme/operator"]
	r := postWithKey(t, "/v1/notifications/send", key, welcome("ada"+outboxDomain), "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	waitJob(t, id, key)
	n := notification(t, id, key)
	out := list(n["outbox"])
	if len(out) != 1 {
		t.Fatalf("outbox %v", n)
	}
	o := out[0].(map[string]any)
	if !strings.Contains(o["html"].(string), "Ada &lt;b&gt;") || !strings.Contains(o["text"].(string), "Ada <b>") || messages(n)[0]["provider"] != "outbox" {
		t.Fatalf("outbox entry %v", o)
	}
}

func TestScheduledNotificationSendsAtItsTime(t *testing.T) {
	key := env.keys["acme/operator"]
	body := welcome("later@example.com")
	body["send_at"] = time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	r := postWithKey(t, "/v1/notifications/schedule", key, body, "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("schedule: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if n := notification(t, id, key); n["status"] != "scheduled" || len(acceptedByRecipient("later@example.com")) != 0 {
		t.Fatalf("before send_at: %v", n)
	}
	waitJob(t, id, key)
	recordHistory(t, id, "notification_send_at")
	n := notification(t, id, key)
	sentAt, _ := time.Parse(time.RFC3339Nano, n["sent_at"].(string))
	due, _ := time.Parse(time.RFC3339Nano, body["send_at"].(string))
	if n["status"] != "sent" || sentAt.Before(due) || len(acceptedByRecipient("later@example.com")) != 1 {
		t.Fatalf("after send_at %s: %v", due, n)
	}
}

func TestCancelBeforeSendSendsNothing(t *testing.T) {
	key := env.keys["acme/operator"]
	body := welcome("never@example.com")
	body["send_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := postWithKey(t, "/v1/notifications/schedule", key, body, "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("schedule: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if c := call(t, http.MethodDelete, "/v1/notifications/"+id+"/cancel", key, "", nil); c.Status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", c.Status, c.Raw)
	}
	if j := waitJob(t, id, key); j.Body["status"] != "canceled" {
		t.Fatalf("job after cancel: %s", j.Raw)
	}
	deadline := time.Now().Add(20 * time.Second)
	for notification(t, id, key)["status"] != "canceled" {
		if time.Now().After(deadline) {
			t.Fatalf("notification never recorded canceled: %v", notification(t, id, key))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(acceptedByRecipient("never@example.com")); n != 0 {
		t.Fatalf("%d messages sent after cancel", n)
	}
	if c := call(t, http.MethodDelete, "/v1/notifications/"+id+"/cancel", env.keys["globex/operator"], "", nil); c.Status != http.StatusNotFound {
		t.Fatalf("cancel by another tenant: %d", c.Status)
	}
}

// sendgridSign signs a webhook body the way SendGrid does, with the standard library only.
func sendgridSign(body []byte, ts string) string {
	digest := sha256.Sum256(append([]byte(ts), body...))
	sig, _ := ecdsa.SignASN1(rand.Reader, notifyEnv.sgKey, digest[:])
	return base64.StdEncoding.EncodeToString(sig)
}

func TestSendGridWebhookBounceSuppresses(t *testing.T) {
	key := env.keys["globex/operator"]
	to := "bouncy@example.com"
	r := postWithKey(t, "/v1/notifications/send", key, welcome(to), "")
	id := r.Body["id"].(string)
	waitJob(t, id, key)
	sgID := acceptedByRecipient(to)[0].MessageID
	msgKey := messages(notification(t, id, key))[0]["message_key"].(string)

	events := []map[string]any{
		{"email": to, "timestamp": time.Now().Unix(), "event": "delivered", "sg_event_id": "ev-d-" + id, "sg_message_id": sgID + ".filter0001", "impactflow_message_key": msgKey},
		{"email": to, "timestamp": time.Now().Unix() + 1, "event": "bounce", "sg_event_id": "ev-b-" + id, "sg_message_id": sgID + ".filter0001", "reason": "550 mailbox unavailable"},
	}
	body, _ := json.Marshal(events)
	ts := fmt.Sprint(time.Now().Unix())

	// Unsigned and badly signed calls are refused and change nothing.
	for _, sig := range []string{"", sendgridSign(body, "1"), base64.StdEncoding.EncodeToString([]byte("junk"))} {
		u := call(t, http.MethodPost, "/v1/notifications/webhooks/sendgrid", "", "application/json", bytes.NewReader(body),
			"X-Twilio-Email-Event-Webhook-Signature", sig, "X-Twilio-Email-Event-Webhook-Timestamp", ts)
		if u.Status != http.StatusUnauthorized {
			t.Fatalf("bad signature: %d %s", u.Status, u.Raw)
		}
	}
	if n := notification(t, id, key); len(list(n["events"])) != 0 || messages(n)[0]["status"] != "sent" {
		t.Fatalf("an unsigned webhook changed the notification: %v", n)
	}

	ok := call(t, http.MethodPost, "/v1/notifications/webhooks/sendgrid", "", "application/json", bytes.NewReader(body),
		"X-Twilio-Email-Event-Webhook-Signature", sendgridSign(body, ts), "X-Twilio-Email-Event-Webhook-Timestamp", ts)
	if ok.Status != http.StatusOK || num(ok.Body, "applied") != 2 {
		t.Fatalf("signed webhook: %d %s", ok.Status, ok.Raw)
	}
	n := notification(t, id, key)
	if evs := list(n["events"]); len(evs) != 2 || messages(n)[0]["status"] != "bounced" {
		t.Fatalf("after bounce: %v", n)
	}
	// Delivered twice (SendGrid retries webhooks) is recorded once.
	again := call(t, http.MethodPost, "/v1/notifications/webhooks/sendgrid", "", "application/json", bytes.NewReader(body),
		"X-Twilio-Email-Event-Webhook-Signature", sendgridSign(body, ts), "X-Twilio-Email-Event-Webhook-Timestamp", ts)
	if num(again.Body, "applied") != 0 {
		t.Fatalf("redelivered webhook applied again: %s", again.Raw)
	}

	// The bounced address is suppressed for this tenant: the next send to it is not made.
	r = postWithKey(t, "/v1/notifications/send", key, welcome(to), "")
	id2 := r.Body["id"].(string)
	waitJob(t, id2, key)
	if m := messages(notification(t, id2, key))[0]; m["status"] != "suppressed" || len(acceptedByRecipient(to)) != 1 {
		t.Fatalf("send to a bounced address: %v", m)
	}
	// Another tenant may still write to it.
	r = postWithKey(t, "/v1/notifications/send", env.keys["acme/operator"], welcome(to), "")
	waitJob(t, r.Body["id"].(string), env.keys["acme/operator"])
	if len(acceptedByRecipient(to)) != 2 {
		t.Fatal("the suppression leaked to another tenant")
	}
}

// twilioSign computes X-Twilio-Signature with the standard library: the URL, then each
// parameter name and value sorted by name, HMAC-SHA1 with the auth token, base64.
func twilioSign(u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := u
	for _, k := range keys {
		data += k + form.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(notifyEnv.twilioToken))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestTwilioSMSAndSignedStatusCallback(t *testing.T) {
	key := env.keys["acme/operator"]
	r := postWithKey(t, "/v1/notifications/send", key, map[string]any{"channel": "sms", "to": []string{"+14155550123"}, "body": "Your export is ready"}, "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	waitJob(t, id, key)
	m := messages(notification(t, id, key))[0]
	sid, _ := m["provider_message_id"].(string)
	if m["provider"] != "twilio" || !strings.HasPrefix(sid, "SM") {
		t.Fatalf("message %v", m)
	}
	form := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "To": {"+14155550123"}, "AccountSid": {"ACtest"}}
	path := "/v1/notifications/webhooks/twilio"
	bad := call(t, http.MethodPost, path, "", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), "X-Twilio-Signature", twilioSign(notifyEnv.publicURL+"/other", form))
	if bad.Status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", bad.Status)
	}
	if st := messages(notification(t, id, key))[0]["status"]; st != "sent" {
		t.Fatalf("a refused callback changed the message to %v", st)
	}
	good := call(t, http.MethodPost, path, "", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), "X-Twilio-Signature", twilioSign(notifyEnv.publicURL+path, form))
	if good.Status != http.StatusNoContent {
		t.Fatalf("signed callback: %d %s", good.Status, good.Raw)
	}
	if st := messages(notification(t, id, key))[0]["status"]; st != "delivered" {
		t.Fatalf("after delivered callback: %v", st)
	}
}

func TestRecurringScheduleLifecycle(t *testing.T) {
	key := newTenant(t, "hooli", "Europe/Paris")
	body := map[string]any{"channel": "email", "to": []string{"weekly" + outboxDomain}, "template": "weekly_report",
		"data": map[string]any{"tenant_name": "Hooli", "period_start": "2026-03-02", "period_end": "2026-03-08", "events": 10,
			"hours": "3.5", "participants": 4, "report_url": "https://app.example.com/r"},
		"recurrence": map[string]any{"calendar": map[string]any{"day_of_week": "MON", "hour": "9"}}}
	r := postWithKey(t, "/v1/notifications/schedule", key, body, "")
	if r.Status != http.StatusCreated {
		t.Fatalf("create schedule: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if r.Body["timezone"] != "Europe/Paris" || r.Body["cron"] != "0 9 * * MON" {
		t.Fatalf("schedule %s", r.Raw)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, v := range r.Body["next_action_times"].([]any) {
		at, _ := time.Parse(time.RFC3339, v.(string))
		if l := at.In(paris); l.Weekday() != time.Monday || l.Hour() != 9 || l.Minute() != 0 {
			t.Fatalf("next action %s is %s in Paris", at, l)
		}
	}
	if p := postWithKey(t, "/v1/notifications/schedules/"+id+"/pause", key, nil, ""); p.Status != http.StatusOK || p.Body["paused"] != true {
		t.Fatalf("pause: %d %s", p.Status, p.Raw)
	}
	if p := postWithKey(t, "/v1/notifications/schedules/"+id+"/resume", key, nil, ""); p.Status != http.StatusOK || p.Body["paused"] != false {
		t.Fatalf("resume: %d %s", p.Status, p.Raw)
	}
	if p := postWithKey(t, "/v1/notifications/schedules/"+id+"/trigger", key, nil, ""); p.Status != http.StatusOK {
		t.Fatalf("trigger: %d %s", p.Status, p.Raw)
	}
	// The triggered run is a notification of its own, sent to the outbox.
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := getJSON(t, "/v1/notifications/history?template=weekly_report&status=sent", key)
		if list := h.Body["notifications"].([]any); len(list) == 1 {
			if n := list[0].(map[string]any); n["schedule_id"] != id {
				t.Fatalf("run %v", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the triggered run never sent: %s", h.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l := getJSON(t, "/v1/notifications/schedules", key); len(l.Body["schedules"].([]any)) != 1 {
		t.Fatalf("list: %s", l.Raw)
	}
	if g := getJSON(t, "/v1/notifications/schedules/"+id, env.keys["acme/viewer"]); g.Status != http.StatusNotFound {
		t.Fatalf("another tenant's schedule: %d", g.Status)
	}
	if d := call(t, http.MethodDelete, "/v1/notifications/"+id+"/cancel", key, "", nil); d.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", d.Status, d.Raw)
	}
	if l := getJSON(t, "/v1/notifications/schedules", key); len(l.Body["schedules"].([]any)) != 0 {
		t.Fatalf("list after delete: %s", l.Raw)
	}
	bad := map[string]any{"channel": "sms", "to": []string{"+14155550100"}, "body": "x", "recurrence": map[string]any{"cron": "61 * * * *"}}
	if b := postWithKey(t, "/v1/notifications/schedule", key, bad, ""); b.Status != http.StatusBadRequest || !strings.HasPrefix(b.errorField(), "recurrence") {
		t.Fatalf("bad cron: %d %s", b.Status, b.Raw)
	}
}

// TestRecurringScheduleKeepsLocalTimeAcrossDST asks the embedded Temporal server for the
// fire times of a Monday 09:00 New York schedule that starts two weeks before the next
// spring-forward change: every one is 09:00 local, so the UTC hour moves from 14 to 13.
func TestRecurringScheduleKeepsLocalTimeAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// The next day on which New York's UTC offset grows (daylight time begins).
	day := time.Now().In(ny)
	day = time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, ny)
	for i := 0; ; i++ {
		if i > 400 {
			t.Fatal("no DST change in New York within a year")
		}
		next := day.AddDate(0, 0, 1)
		_, before := day.Zone()
		_, after := next.Zone()
		day = next
		if after > before {
			break
		}
	}
	start := day.AddDate(0, 0, -14).UTC()
	key := newTenant(t, "vandelay", "America/New_York")
	body := map[string]any{"channel": "sms", "to": []string{"+14155550100"}, "body": "weekly digest",
		"recurrence": map[string]any{"calendar": map[string]any{"day_of_week": "MON", "hour": "9"}, "start_at": start}}
	r := postWithKey(t, "/v1/notifications/schedule", key, body, "")
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	defer call(t, http.MethodDelete, "/v1/notifications/"+r.Body["id"].(string)+"/cancel", key, "", nil)
	var times []time.Time
	for _, v := range list(r.Body["next_action_times"]) {
		at, _ := time.Parse(time.RFC3339, v.(string))
		times = append(times, at)
	}
	if len(times) < 4 {
		t.Fatalf("next action times %v", times)
	}
	for _, at := range times {
		if l := at.In(ny); l.Weekday() != time.Monday || l.Hour() != 9 || l.Minute() != 0 || at.Before(start) {
			t.Fatalf("fire time %s is %s in New York (start %s)", at.UTC(), l, start)
		}
		want := 13 // EDT, UTC-4
		if at.Before(day) {
			want = 14 // EST, UTC-5
		}
		if at.UTC().Hour() != want {
			t.Fatalf("fire time %s: UTC hour %d, want %d (DST begins %s)", at.UTC(), at.UTC().Hour(), want, day.Format("2006-01-02"))
		}
	}
	if !times[0].Before(day) || times[len(times)-1].Before(day) {
		t.Fatalf("fire times %v do not straddle the change on %s", times, day.Format("2006-01-02"))
	}
}

func TestEventTriggersRuleNotifications(t *testing.T) {
	key := newTenant(t, "umbrella", "UTC")
	rule := map[string]any{"event_type": "slo.breached", "channel": "email", "template": "slo_alert", "locale": "es", "recipients": []string{"oncall" + outboxDomain}}
	if r := postWithKey(t, "/v1/notifications/rules", key, rule, ""); r.Status != http.StatusCreated {
		t.Fatalf("rule: %d %s", r.Status, r.Raw)
	}
	ev := map[string]any{"id": "slo-42", "type": "slo.breached", "data": map[string]any{"slo_name": "Report latency", "objective": "99% < 60 s",
		"actual": "93%", "window": "24 h", "dashboard_url": "https://app.example.com/slo"}}
	r := postWithKey(t, "/v1/events", key, ev, "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("event: %d %s", r.Status, r.Raw)
	}
	postWithKey(t, "/v1/events", key, ev, "") // the same event again is one event
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := getJSON(t, "/v1/notifications/history?template=slo_alert", key)
		list := h.Body["notifications"].([]any)
		if len(list) > 1 {
			t.Fatalf("the same event started %d notifications", len(list))
		}
		if len(list) == 1 && list[0].(map[string]any)["status"] == "sent" {
			n := notification(t, list[0].(map[string]any)["id"].(string), key)
			out := n["outbox"].([]any)[0].(map[string]any)
			if !strings.Contains(out["subject"].(string), "SLO incumplido") || n["trigger_event_id"] != r.Body["event_id"] {
				t.Fatalf("triggered notification %v", n)
			}
			recordHistory(t, r.Body["workflow_id"].(string), "event_trigger")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification from the event: %s", h.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTemplatePreviewAndHistoryPaging(t *testing.T) {
	key := env.keys["acme/viewer"]
	for _, locale := range []string{"en", "es", "fr"} {
		r := getJSON(t, "/v1/notifications/templates/gdpr_export_ready/preview?locale="+locale, key)
		if r.Status != http.StatusOK || r.Body["html"] == "" || r.Body["subject"] == "" {
			t.Fatalf("preview %s: %d %s", locale, r.Status, r.Raw)
		}
	}
	if r := getJSON(t, "/v1/notifications/templates/gdpr_export_ready/preview?locale=de", key); r.Status != http.StatusBadRequest {
		t.Fatalf("bad locale: %d", r.Status)
	}
	if r := getJSON(t, "/v1/notifications/templates/nope/preview", key); r.Status != http.StatusNotFound {
		t.Fatalf("unknown template: %d", r.Status)
	}
	op := env.keys["acme/operator"]
	for i := 0; i < 3; i++ {
		postWithKey(t, "/v1/notifications/send", op, map[string]any{"channel": "email", "to": []string{fmt.Sprintf("page%d%s", i, outboxDomain)}, "subject": "s", "body": "b"}, "")
	}
	if r := getJSON(t, "/v1/notifications/history?recipient=page1"+outboxDomain, key); len(r.Body["notifications"].([]any)) != 1 {
		t.Fatalf("recipient filter: %s", r.Raw)
	}
	seen := map[string]bool{}
	all := getJSON(t, "/v1/notifications/history?page_size=2&channel=email", key)
	list := all.Body["notifications"].([]any)
	next, _ := all.Body["next_page_token"].(string)
	if len(list) != 2 || next == "" {
		t.Fatalf("first page %s", all.Raw)
	}
	for _, n := range list {
		seen[n.(map[string]any)["id"].(string)] = true
	}
	p2 := getJSON(t, "/v1/notifications/history?page_size=2&channel=email&page_token="+next, key)
	for _, n := range p2.Body["notifications"].([]any) {
		if id := n.(map[string]any)["id"].(string); seen[id] {
			t.Fatalf("page 2 repeats %s", id)
		}
	}
	if r := getJSON(t, "/v1/notifications/history?page_token=zzz", key); r.Status != http.StatusBadRequest || r.errorField() != "page_token" {
		t.Fatalf("bad token: %d %s", r.Status, r.Raw)
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestPushThroughFCMAndPermanentFailure(t *testing.T) {
	key := env.keys["acme/operator"]
	r := postWithKey(t, "/v1/notifications/send", key, map[string]any{"channel": "push", "to": []string{"device-abc", "unregistered-device"},
		"template": "slo_alert", "locale": "en", "data": map[string]any{"tenant_name": "Acme", "slo_name": "Latency", "objective": "99%",
			"actual": "90%", "window": "1 h", "dashboard_url": "https://app.example.com/slo"}}, "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	waitJob(t, id, key)
	n := notification(t, id, key)
	msgs := messages(n)
	if n["status"] != "partially_sent" || msgs[0]["status"] != "sent" || msgs[1]["status"] != "failed" || !strings.HasPrefix(msgs[0]["provider_message_id"].(string), "projects/impactflow-test/messages/") {
		t.Fatalf("notification %v", n)
	}
	var got []fcmsandbox.Message
	for _, m := range notifyEnv.fcm.Messages() {
		if m.Token == "device-abc" && m.Data["impactflow_message_key"] == msgs[0]["message_key"] {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0].Notification["title"] != "SLO breached: Latency" {
		t.Fatalf("FCM received %+v", got)
	}
}

// TestRedisDownSendIs503: with the quota store unreachable, a send due now is a
// 503 naming Redis and starts nothing; the quota view is a 503 too.
func TestRedisDownSendIs503(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer dead.Close()
	srv := httptest.NewServer(api.New(api.Deps{
		Store: env.store, Jobs: env.jobs, Temporal: env.temporal, Redis: dead, Metrics: metrics.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20, MaxImportBytes: 1 << 20, Version: "test",
		Notifications: api.Notifications{Quota: &quota.Quota{Redis: dead, Prefix: notifyEnv.prefix}},
	}))
	defer srv.Close()
	b, _ := json.Marshal(welcome("redis-down@example.com"))
	r := callAt(t, srv.URL, http.MethodPost, "/v1/notifications/send", env.keys["acme/operator"], "application/json", bytes.NewReader(b))
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Raw), `"redis"`) {
		t.Fatalf("send with Redis down: %d %s", r.Status, r.Raw)
	}
	h := getJSON(t, "/v1/notifications/history?recipient=redis-down@example.com", env.keys["acme/viewer"])
	if n := len(list(h.Body["notifications"])); n != 0 {
		t.Fatalf("%d notifications recorded for a refused send", n)
	}
}
