package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/notify/natsub"
	notifyproviders "github.com/impactflow/impactflow/internal/notify/providers"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/notify/webhooks"
	fcmsandbox "github.com/impactflow/impactflow/internal/sandbox/fcm"
	twsandbox "github.com/impactflow/impactflow/internal/sandbox/twilio"
	"github.com/impactflow/impactflow/workers"
)

// quotaPrefix namespaces the quota counters in Redis.
const quotaPrefix = "impactflow:"

// openNotifications builds the notification providers configured in cfg, the quota store
// and the webhook keys. Email without SENDGRID_API_KEY goes to the Postgres outbox; SMS and
// push have no provider until configured (dev adds the sandboxes).
func (p *platform) openNotifications() error {
	cfg := p.cfg
	senders := notifyproviders.Channels{}
	if cfg.SendGridAPIKey != "" {
		senders[notifyproviders.ChannelEmail] = &notifyproviders.SendGrid{APIKey: cfg.SendGridAPIKey.Reveal(), Host: cfg.SendGridBaseURL, From: cfg.EmailFrom, FromName: "impactflow"}
	} else {
		senders[notifyproviders.ChannelEmail] = &notifyproviders.Outbox{Store: notifications.Outbox{Store: p.store}}
	}
	callback := cfg.PublicBaseURL + "/v1/notifications/webhooks/twilio"
	if cfg.TwilioAccountSID != "" {
		senders[notifyproviders.ChannelSMS] = &notifyproviders.Twilio{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken.Reveal(),
			From: cfg.TwilioFrom, Host: cfg.TwilioBaseURL, StatusCallback: callback}
	}
	if cfg.FCMCredentialsFile != "" {
		b, err := os.ReadFile(cfg.FCMCredentialsFile)
		if err != nil {
			return fmt.Errorf("FCM_CREDENTIALS_FILE: %w", err)
		}
		sa, err := notifyproviders.ParseServiceAccount(b)
		if err != nil {
			return fmt.Errorf("FCM_CREDENTIALS_FILE: %w", err)
		}
		senders[notifyproviders.ChannelPush] = &notifyproviders.FCM{Account: sa, Host: cfg.FCMBaseURL}
	}
	q := &quota.Quota{Redis: p.redis, Prefix: quotaPrefix}
	p.notify = &workers.NotificationDeps{Quota: q, Senders: senders}
	p.notifyAPI = api.Notifications{Quota: q, TwilioAuthToken: cfg.TwilioAuthToken.Reveal(), PublicURL: cfg.PublicBaseURL}
	if cfg.SendGridWebhookPublicKey != "" {
		key, err := webhooks.ParseSendGridKey(cfg.SendGridWebhookPublicKey)
		if err != nil {
			return fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
		}
		p.notifyAPI.SendGridWebhookKey = key
	}
	return nil
}

// useNotificationSandboxes gives dev mode an SMS and a push provider when none is
// configured: the Twilio and FCM sandboxes, served in-process on loopback ports.
func (p *platform) useNotificationSandboxes() error {
	if _, ok := p.notify.Senders[notifyproviders.ChannelSMS]; !ok {
		sb := twsandbox.New("ACdevsandbox", "dev-sandbox-token")
		base, stop, err := serveLoopback(sb)
		if err != nil {
			return err
		}
		p.closers = append(p.closers, stop)
		p.notify.Senders[notifyproviders.ChannelSMS] = &notifyproviders.Twilio{AccountSID: "ACdevsandbox", AuthToken: "dev-sandbox-token", From: "+15005550006", Host: base}
		p.notifySandboxes = append(p.notifySandboxes, "SMS: Twilio sandbox at "+base)
	}
	if _, ok := p.notify.Senders[notifyproviders.ChannelPush]; !ok {
		sb, err := fcmsandbox.New("impactflow-dev")
		if err != nil {
			return err
		}
		base, stop, err := serveLoopback(sb)
		if err != nil {
			return err
		}
		sb.SetBaseURL(base)
		p.closers = append(p.closers, stop)
		sa, err := notifyproviders.ParseServiceAccount(sb.ServiceAccountJSON())
		if err != nil {
			return err
		}
		p.notify.Senders[notifyproviders.ChannelPush] = &notifyproviders.FCM{Account: sa, Host: base}
		p.notifySandboxes = append(p.notifySandboxes, "push: FCM sandbox at "+base)
	}
	for _, s := range p.notifySandboxes {
		p.log.Info("no provider configured; using the in-process sandbox", "channel", s)
	}
	return nil
}

func serveLoopback(h http.Handler) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// subscribeEvents feeds NATS events to the triggers when NATS_URL is set.
func (p *platform) subscribeEvents() error {
	if p.cfg.NATSURL == "" {
		return nil
	}
	emitter := events.Emitter{Client: p.temporal}
	sub, err := natsub.Subscribe(p.cfg.NATSURL, p.cfg.NATSEventsSubject, func(ctx context.Context, ev events.Event) error {
		return emitter.Emit(ctx, ev)
	}, p.log)
	if err != nil {
		return err
	}
	p.closers = append(p.closers, sub.Close)
	p.log.Info("notification triggers subscribed to NATS", "subject", p.cfg.NATSEventsSubject)
	return nil
}
