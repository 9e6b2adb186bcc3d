package providers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	fcmsandbox "github.com/impactflow/impactflow/internal/sandbox/fcm"
	sgsandbox "github.com/impactflow/impactflow/internal/sandbox/sendgrid"
	twsandbox "github.com/impactflow/impactflow/internal/sandbox/twilio"
)

func email(to string) Message {
	return Message{Key: "n-1/0", TenantID: "acme", NotificationID: "notification-1", Channel: ChannelEmail, To: to,
		Subject: "Hello", HTML: "<p>Hi</p>", Text: "Hi\n"}
}

func TestSendGridAgainstSandbox(t *testing.T) {
	sb := sgsandbox.New("SG.test")
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sg := &SendGrid{APIKey: "SG.test", Host: srv.URL, From: "noreply@impactflow.test"}
	ctx := context.Background()

	res, err := sg.Send(ctx, email("ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	acc := sb.Accepted()
	if len(acc) != 1 || res.MessageID != acc[0].MessageID || res.MessageID == "" {
		t.Fatalf("result %+v, accepted %+v", res, acc)
	}
	m := acc[0].Mail
	if m.Content[0].Type != "text/plain" || m.Content[1].Type != "text/html" || m.CustomArgs[ArgMessageKey] != "n-1/0" || m.Personalizations[0].To[0].Email != "ada@example.com" {
		t.Fatalf("mail as received: %+v", m)
	}

	cases := []struct {
		name      string
		key, to   string
		inject    int
		retryable bool
	}{
		{name: "bad address", key: "SG.test", to: "not an address", retryable: false},
		{name: "bad key", key: "SG.wrong", to: "ada@example.com", retryable: false},
		{name: "server error", key: "SG.test", to: "ada@example.com", inject: 500, retryable: true},
		{name: "rate limited", key: "SG.test", to: "ada@example.com", inject: 429, retryable: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.inject != 0 {
				sb.FailNext(c.inject)
			}
			_, err := (&SendGrid{APIKey: c.key, Host: srv.URL, From: "noreply@impactflow.test"}).Send(ctx, email(c.to))
			if err == nil {
				t.Fatal("want an error")
			}
			if IsRetryable(err) != c.retryable {
				t.Fatalf("retryable = %v, want %v (%v)", IsRetryable(err), c.retryable, err)
			}
		})
	}
	if _, err := (&SendGrid{APIKey: "SG.test", Host: "http://127.0.0.1:1", From: "a@b.co"}).Send(ctx, email("ada@example.com")); err == nil || !IsRetryable(err) {
		t.Fatalf("network failure: %v, want retryable", err)
	}
}

func TestTwilioAgainstSandbox(t *testing.T) {
	sb := twsandbox.New("AC123", "secret")
	srv := httptest.NewServer(sb)
	defer srv.Close()
	tw := &Twilio{AccountSID: "AC123", AuthToken: "secret", From: "+15005550006", Host: srv.URL}
	ctx := context.Background()
	sms := Message{Key: "k", Channel: ChannelSMS, To: "+14155550100", Text: "Your report is ready"}
	res, err := tw.Send(ctx, sms)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := sb.Messages(); len(msgs) != 1 || msgs[0].SID != res.MessageID || msgs[0].Body != sms.Text || res.Status != "queued" {
		t.Fatalf("result %+v, messages %+v", res, msgs)
	}
	bad := sms
	bad.To = "0155"
	if _, err := tw.Send(ctx, bad); err == nil || IsRetryable(err) {
		t.Fatalf("bad number: %v, want non-retryable", err)
	}
	if _, err := (&Twilio{AccountSID: "AC123", AuthToken: "nope", From: "+15005550006", Host: srv.URL}).Send(ctx, sms); err == nil || IsRetryable(err) {
		t.Fatalf("bad credentials: %v, want non-retryable", err)
	}
	sb.FailNext(http.StatusServiceUnavailable)
	if _, err := tw.Send(ctx, sms); err == nil || !IsRetryable(err) {
		t.Fatalf("503: %v, want retryable", err)
	}
}

func TestFCMAgainstSandbox(t *testing.T) {
	sb, err := fcmsandbox.New("impactflow-test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sb.SetBaseURL(srv.URL)
	sa, err := ParseServiceAccount(sb.ServiceAccountJSON())
	if err != nil {
		t.Fatal(err)
	}
	f := &FCM{Account: sa, Host: srv.URL}
	ctx := context.Background()
	push := Message{Key: "k1", Channel: ChannelPush, To: "device-token-1", Subject: "SLO breached", Text: "Report latency"}
	for i := 0; i < 2; i++ {
		if _, err := f.Send(ctx, push); err != nil {
			t.Fatal(err)
		}
	}
	msgs := sb.Messages()
	if len(msgs) != 2 || msgs[0].Token != "device-token-1" || msgs[0].Notification["title"] != "SLO breached" || msgs[0].Data["impactflow_message_key"] != "k1" {
		t.Fatalf("messages %+v", msgs)
	}
	if n := sb.TokensIssued(); n != 1 {
		t.Fatalf("%d access tokens fetched for two sends, want 1 (cached)", n)
	}
	push.To = "unregistered-device"
	if _, err := f.Send(ctx, push); err == nil || IsRetryable(err) {
		t.Fatalf("unregistered token: %v, want non-retryable", err)
	}
	push.To = "device-token-1"
	sb.FailNext(http.StatusServiceUnavailable)
	if _, err := f.Send(ctx, push); err == nil || !IsRetryable(err) {
		t.Fatalf("503: %v, want retryable", err)
	}

	// A key the sandbox does not know is refused at the token endpoint, for good.
	other, _ := fcmsandbox.New("impactflow-test")
	other.SetBaseURL(srv.URL)
	wrong, _ := ParseServiceAccount(other.ServiceAccountJSON())
	if _, err := (&FCM{Account: wrong, Host: srv.URL}).Send(ctx, push); err == nil || IsRetryable(err) {
		t.Fatalf("wrong key: %v, want non-retryable", err)
	}
}
