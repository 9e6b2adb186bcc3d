package connectors

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// WS-Security namespaces and types of a UsernameToken with a password digest.
const (
	soapEnvNS      = "http://schemas.xmlsoap.org/soap/envelope/"
	wsseNS         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	wsuNS          = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	passwordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	nonceEncoding  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// WorkdaySOAPClient calls Workday's SOAP web service with a WS-Security UsernameToken:
// PasswordDigest = Base64(SHA-1(nonce + created + password)), a fresh nonce and created
// time on every request.
type WorkdaySOAPClient struct {
	Endpoint string
	Username string
	Password string
	HTTP     *http.Client
	Now      func() time.Time
}

// Send wraps the body element in a signed envelope and posts it. A SOAP fault comes back
// as *Error with the fault's code and text; a Client or authentication fault is not
// retryable, a Server fault is.
func (c *WorkdaySOAPClient) Send(ctx context.Context, body []byte, idempotencyKey string) (Receipt, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	env := c.envelope(body, now().UTC())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint, bytes.NewReader(env))
	if err != nil {
		return Receipt{}, &Error{Partner: Workday, Message: err.Error(), Kind: "rejected"}
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"Submit_Impact_Data"`)
	req.Header.Set("Idempotency-Key", idempotencyKey)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Receipt{}, networkError(Workday, err)
	}
	defer resp.Body.Close()
	raw := readBody(resp, 1<<20)
	if fault, ok := ParseSOAPFault(raw); ok {
		e := &Error{Partner: Workday, HTTPStatus: resp.StatusCode, Message: fault.Error(), Kind: "rejected"}
		switch {
		case strings.Contains(fault.Code, "FailedAuthentication") || strings.Contains(fault.Code, "InvalidSecurity"):
			e.Kind = "unauthorized"
		case strings.HasSuffix(fault.Code, "Server"):
			e.Kind, e.Retryable = "server", true
		}
		return Receipt{}, e
	}
	if resp.StatusCode/100 != 2 {
		return Receipt{}, statusError(Workday, resp, strings.TrimSpace(string(raw)))
	}
	var out struct {
		Body struct {
			Response struct {
				ReceiptID string `xml:"Receipt_ID"`
				Duplicate bool   `xml:"Duplicate"`
			} `xml:"Submit_Impact_Data_Response"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(raw, &out); err != nil || out.Body.Response.ReceiptID == "" {
		return Receipt{}, &Error{Partner: Workday, HTTPStatus: resp.StatusCode, Message: "answer without a Receipt_ID", Retryable: true, Kind: "server"}
	}
	return Receipt{ID: out.Body.Response.ReceiptID, HTTPStatus: resp.StatusCode, Duplicate: out.Body.Response.Duplicate}, nil
}

func (c *WorkdaySOAPClient) envelope(body []byte, now time.Time) []byte {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	created := now.Format("2006-01-02T15:04:05.000Z")
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(c.Password))
	digest := base64.StdEncoding.EncodeToString(h.Sum(nil))

	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<soapenv:Envelope xmlns:soapenv=%q xmlns:wsse=%q xmlns:wsu=%q>`, soapEnvNS, wsseNS, wsuNS)
	b.WriteString(`<soapenv:Header><wsse:Security soapenv:mustUnderstand="1"><wsse:UsernameToken>`)
	b.WriteString(`<wsse:Username>`)
	_ = xml.EscapeText(&b, []byte(c.Username))
	fmt.Fprintf(&b, `</wsse:Username><wsse:Password Type=%q>%s</wsse:Password>`, passwordDigest, digest)
	fmt.Fprintf(&b, `<wsse:Nonce EncodingType=%q>%s</wsse:Nonce>`, nonceEncoding, base64.StdEncoding.EncodeToString(nonce))
	fmt.Fprintf(&b, `<wsu:Created>%s</wsu:Created>`, created)
	b.WriteString(`</wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body>`)
	b.Write(body)
	b.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	return b.Bytes()
}

// SOAPFault is a SOAP 1.1 fault.
type SOAPFault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail string `xml:"detail"`
}

// Error renders the fault's code, text and detail.
func (f SOAPFault) Error() string {
	msg := fmt.Sprintf("SOAP fault %s: %s", f.Code, strings.TrimSpace(f.String))
	if d := strings.TrimSpace(f.Detail); d != "" {
		msg += " (" + d + ")"
	}
	return msg
}

// ParseSOAPFault finds a fault in a SOAP envelope; ok is false when there is none.
func ParseSOAPFault(raw []byte) (SOAPFault, bool) {
	var env struct {
		Body struct {
			Fault *struct {
				SOAPFault
				DetailXML struct {
					Inner string `xml:",innerxml"`
				} `xml:"detail"`
			} `xml:"Fault"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(raw, &env); err != nil || env.Body.Fault == nil {
		return SOAPFault{}, false
	}
	f := env.Body.Fault.SOAPFault
	if f.Detail == "" {
		f.Detail = stripTags(env.Body.Fault.DetailXML.Inner)
	}
	return f, true
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
