package providers

import (
	"context"
	"net/http"
	"strings"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// DefaultSendGridHost is SendGrid's API.
const DefaultSendGridHost = "https://api.sendgrid.com"

// SendGrid sends email through SendGrid's v3 mail/send API.
type SendGrid struct {
	APIKey   string
	Host     string // DefaultSendGridHost when empty
	From     string
	FromName string
	HTTP     *http.Client
}

// Custom args SendGrid echoes in every event webhook for the message, so events map back.
const (
	ArgMessageKey     = "impactflow_message_key"
	ArgNotificationID = "impactflow_notification_id"
	ArgTenantID       = "impactflow_tenant_id"
)

// Send posts the message to /v3/mail/send; SendGrid answers 202 with X-Message-Id.
func (s *SendGrid) Send(ctx context.Context, m Message) (Result, error) {
	host := s.Host
	if host == "" {
		host = DefaultSendGridHost
	}
	req := sendgrid.GetRequest(s.APIKey, "/v3/mail/send", strings.TrimRight(host, "/"))
	req.Method = rest.Post
	req.Headers["Content-Type"] = "application/json"
	req.Body = mail.GetRequestBody(s.mail(m))
	resp, err := (&rest.Client{HTTPClient: httpClient(s.HTTP)}).SendWithContext(ctx, req)
	if err != nil {
		return Result{}, networkError("sendgrid", err)
	}
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		retryAfter := ""
		if v := resp.Headers["Retry-After"]; len(v) > 0 {
			retryAfter = v[0]
		}
		return Result{}, classify("sendgrid", resp.StatusCode, retryAfter, []byte(resp.Body))
	}
	id := ""
	if v := resp.Headers["X-Message-Id"]; len(v) > 0 {
		id = v[0]
	}
	return Result{Provider: "sendgrid", MessageID: id, Status: "accepted"}, nil
}

func (s *SendGrid) mail(m Message) *mail.SGMailV3 {
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail("", m.To))
	msg := mail.NewV3Mail()
	msg.SetFrom(mail.NewEmail(s.FromName, s.From))
	msg.Subject = m.Subject
	msg.AddPersonalizations(p)
	// SendGrid wants text/plain before text/html.
	msg.AddContent(mail.NewContent("text/plain", m.Text))
	if m.HTML != "" {
		msg.AddContent(mail.NewContent("text/html", m.HTML))
	}
	msg.SetCustomArg(ArgMessageKey, m.Key)
	msg.SetCustomArg(ArgNotificationID, m.NotificationID)
	msg.SetCustomArg(ArgTenantID, m.TenantID)
	return msg
}
