package connectors

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Benevity's request headers.
const (
	BenevityAccountHeader   = "X-Benevity-Account"
	BenevityTimestampHeader = "X-Benevity-Timestamp"
	BenevitySignatureHeader = "X-Benevity-Signature"
)

// BenevityClient posts impact reports to Benevity, each signed with HMAC-SHA256 over the
// timestamp and the body.
type BenevityClient struct {
	BaseURL   string
	AccountID string
	Secret    string
	HTTP      *http.Client
	Now       func() time.Time // the clock stamped into signatures; time.Now when nil
}

// Send posts the report. The signature is computed per request (a fresh timestamp each
// attempt); the Idempotency-Key is the caller's and stays the same.
func (c *BenevityClient) Send(ctx context.Context, payload []byte, idempotencyKey string) (Receipt, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/v1/impact-reports", bytes.NewReader(payload))
	if err != nil {
		return Receipt{}, &Error{Partner: Benevity, Message: err.Error(), Kind: "rejected"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey)
	req.Header.Set(BenevityAccountHeader, c.AccountID)
	req.Header.Set(BenevityTimestampHeader, ts)
	req.Header.Set(BenevitySignatureHeader, "v1="+benevitySign(c.Secret, ts, payload))
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Receipt{}, networkError(Benevity, err)
	}
	defer resp.Body.Close()
	body := readBody(resp, maxErrorBody)
	if resp.StatusCode/100 != 2 {
		return Receipt{}, statusError(Benevity, resp, jsonMessage(body))
	}
	var ok struct {
		ReceiptID string `json:"receiptId"`
		Duplicate bool   `json:"duplicate"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.ReceiptID == "" {
		return Receipt{}, &Error{Partner: Benevity, HTTPStatus: resp.StatusCode, Message: "answer without a receiptId", Retryable: true, Kind: "server"}
	}
	return Receipt{ID: ok.ReceiptID, HTTPStatus: resp.StatusCode, Duplicate: ok.Duplicate}, nil
}

// benevitySign is hex(HMAC-SHA256(secret, timestamp + "." + body)).
func benevitySign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// jsonMessage pulls the partner's message out of a JSON error body: {"error": {"message"}},
// {"error": "..."}, {"message": "..."} or {"error_description": "..."}; else the raw text.
func jsonMessage(body []byte) string {
	var v struct {
		Error            json.RawMessage `json:"error"`
		Message          string          `json:"message"`
		ErrorDescription string          `json:"error_description"`
	}
	if json.Unmarshal(body, &v) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var flat string
		switch {
		case len(v.Error) > 0 && json.Unmarshal(v.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case v.ErrorDescription != "":
			return v.ErrorDescription
		case v.Message != "":
			return v.Message
		case len(v.Error) > 0 && json.Unmarshal(v.Error, &flat) == nil:
			return flat
		}
	}
	s := string(bytes.TrimSpace(body))
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}
