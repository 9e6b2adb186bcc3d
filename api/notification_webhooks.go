package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/notify/webhooks"
	"github.com/impactflow/impactflow/internal/store"
)

func unsigned(c *gin.Context, s *Server) {
	s.fail(c, &apiError{Status: http.StatusUnauthorized, Code: "bad_signature", Message: "the webhook signature is missing or does not verify"})
}

// sendgridWebhook takes SendGrid's signed event webhook. Nothing changes unless the ECDSA
// signature over timestamp + body verifies with the configured key.
func (s *Server) sendgridWebhook(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !webhooks.VerifySendGrid(s.notify.SendGridWebhookKey, c.GetHeader(webhooks.SendGridSignatureHeader), c.GetHeader(webhooks.SendGridTimestampHeader), body) {
		unsigned(c, s)
		return
	}
	evs, err := webhooks.ParseSendGrid(body)
	if err != nil {
		s.fail(c, badRequest("body", "the body is not a SendGrid event array"))
		return
	}
	ctx := c.Request.Context()
	applied := 0
	for _, ev := range evs {
		key := ev.MessageKey
		if key == "" && ev.MessageID != "" {
			// sg_message_id is the X-Message-Id SendGrid answered, plus a suffix after a dot.
			id, _, _ := strings.Cut(ev.MessageID, ".")
			if key, err = s.store.MessageKeyByProviderID(ctx, "sendgrid", id); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.fail(c, err)
				return
			}
		}
		if key == "" {
			continue
		}
		eventID := ev.EventID
		if eventID == "" {
			sum := sha256.Sum256([]byte(key + "\x00" + ev.Event + "\x00" + time.Unix(ev.Timestamp, 0).String()))
			eventID = hex.EncodeToString(sum[:16])
		}
		out := webhooks.SendGridOutcome(ev.Event)
		ok, err := s.store.ApplyDeliveryEvent(ctx, store.DeliveryEvent{MessageKey: key, Provider: "sendgrid", ProviderEventID: eventID,
			Event: ev.Event, Recipient: ev.Email, Reason: ev.Reason, OccurredAt: ev.OccurredAt()}, out.MessageStatus, out.Suppress)
		if err != nil {
			s.fail(c, err)
			return
		}
		if ok {
			applied++
		}
	}
	c.JSON(http.StatusOK, gin.H{"received": len(evs), "applied": applied})
}

// twilioWebhook takes Twilio's message status callbacks, signed with X-Twilio-Signature
// over the public URL of this route and the sorted form parameters.
func (s *Server) twilioWebhook(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		s.fail(c, badRequest("body", "the body is not form-encoded"))
		return
	}
	fullURL := strings.TrimRight(s.notify.PublicURL, "/") + c.Request.URL.RequestURI()
	if !webhooks.VerifyTwilio(s.notify.TwilioAuthToken, fullURL, c.Request.PostForm, c.GetHeader(webhooks.TwilioSignatureHeader)) {
		unsigned(c, s)
		return
	}
	f := c.Request.PostForm
	sid, status := f.Get("MessageSid"), f.Get("MessageStatus")
	if sid == "" {
		s.fail(c, badRequest("MessageSid", "MessageSid is required"))
		return
	}
	ctx := c.Request.Context()
	key, err := s.store.MessageKeyByProviderID(ctx, "twilio", sid)
	if errors.Is(err, store.ErrNotFound) {
		c.Status(http.StatusNoContent)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	out := webhooks.TwilioOutcome(status, f.Get("OptOutType"))
	event := status
	if out.Suppress {
		event = "unsubscribe"
	}
	if _, err := s.store.ApplyDeliveryEvent(ctx, store.DeliveryEvent{MessageKey: key, Provider: "twilio",
		ProviderEventID: sid + ":" + event, Event: event, Reason: f.Get("ErrorCode"), OccurredAt: time.Now().UTC()},
		out.MessageStatus, out.Suppress); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
