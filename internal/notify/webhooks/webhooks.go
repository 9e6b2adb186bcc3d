// Package webhooks verifies and decodes the providers' delivery webhooks: SendGrid's signed
// event webhook (ECDSA P-256 over timestamp + body) and Twilio's status callbacks
// (X-Twilio-Signature, HMAC-SHA1 over the URL and the sorted form parameters).
package webhooks

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// SendGrid's event webhook signature headers.
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
	// TwilioSignatureHeader carries Twilio's request signature.
	TwilioSignatureHeader = "X-Twilio-Signature"
)

// ParseSendGridKey reads the verification key SendGrid shows for a signed event webhook:
// base64 of a DER (PKIX) ECDSA public key; PEM is accepted too.
func ParseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-----BEGIN PUBLIC KEY-----")
	s = strings.TrimSuffix(s, "-----END PUBLIC KEY-----")
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: not base64: %w", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("sendgrid webhook key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("sendgrid webhook key: not an ECDSA key")
	}
	return pub, nil
}

// VerifySendGrid checks the signature (base64 ASN.1 ECDSA) over timestamp + body.
func VerifySendGrid(key *ecdsa.PublicKey, signature, timestamp string, body []byte) bool {
	if key == nil || signature == "" || timestamp == "" {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return false
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	return ecdsa.VerifyASN1(key, h.Sum(nil), sig)
}

// TwilioSignature computes X-Twilio-Signature for a POST to fullURL with form params.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyTwilio checks a status callback's signature in constant time.
func VerifyTwilio(authToken, fullURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	want := TwilioSignature(authToken, fullURL, params)
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}

// SendGridEvent is one event of SendGrid's event webhook; custom args arrive as top-level
// fields.
type SendGridEvent struct {
	Email      string `json:"email"`
	Timestamp  int64  `json:"timestamp"`
	Event      string `json:"event"`
	EventID    string `json:"sg_event_id"`
	MessageID  string `json:"sg_message_id"`
	Reason     string `json:"reason"`
	Type       string `json:"type"`
	MessageKey string `json:"impactflow_message_key"`
}

// ParseSendGrid decodes the webhook's JSON array of events.
func ParseSendGrid(body []byte) ([]SendGridEvent, error) {
	var evs []SendGridEvent
	if err := json.Unmarshal(body, &evs); err != nil {
		return nil, fmt.Errorf("sendgrid events: %w", err)
	}
	return evs, nil
}

// OccurredAt is the event's time.
func (e SendGridEvent) OccurredAt() time.Time { return time.Unix(e.Timestamp, 0).UTC() }

// Outcome is what an event means for the message and its address.
type Outcome struct {
	// MessageStatus is the message's new status; "" leaves it (processed, open, click...).
	MessageStatus string
	// Suppress says the address must not get messages again.
	Suppress bool
}

// SendGridOutcome maps a SendGrid event type.
func SendGridOutcome(event string) Outcome {
	switch event {
	case "delivered":
		return Outcome{MessageStatus: "delivered"}
	case "bounce":
		return Outcome{MessageStatus: "bounced", Suppress: true}
	case "dropped":
		return Outcome{MessageStatus: "dropped"}
	case "spamreport":
		return Outcome{MessageStatus: "spamreport", Suppress: true}
	case "unsubscribe", "group_unsubscribe":
		return Outcome{MessageStatus: "unsubscribed", Suppress: true}
	}
	return Outcome{}
}

// TwilioOutcome maps a status callback's MessageStatus (and an opt-out reply).
func TwilioOutcome(status, optOut string) Outcome {
	if strings.EqualFold(optOut, "STOP") {
		return Outcome{MessageStatus: "unsubscribed", Suppress: true}
	}
	switch status {
	case "delivered":
		return Outcome{MessageStatus: "delivered"}
	case "undelivered", "failed":
		return Outcome{MessageStatus: "undelivered"}
	}
	return Outcome{}
}
