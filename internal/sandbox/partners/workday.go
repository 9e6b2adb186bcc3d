package partners

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Workday is the Workday sandbox, both protocols of one Workday tenant path:
//   - SOAP: POST /ccx/service/{tenant}/Impact_Reporting/v1 with a WS-Security UsernameToken
//     (PasswordDigest, Nonce, Created); errors are SOAP 1.1 faults;
//   - REST: OAuth 2.0 client credentials at POST /ccx/oauth2/{tenant}/token, deliveries at
//     POST /ccx/api/impact/v1/{tenant}/impactData.
type Workday struct {
	Faults Faults
	Ledger Ledger
	// Skew is how far Created may be from the sandbox's clock (default 5 minutes).
	Skew   time.Duration
	tokens tokens

	mu      sync.Mutex
	users   map[string]string    // tenant/user → password
	nonces  map[string]time.Time // seen nonces, refused when reused
	authErr int
}

// NewWorkday returns a Workday sandbox with no users or clients.
func NewWorkday() *Workday {
	w := &Workday{Skew: 5 * time.Minute, users: map[string]string{}, nonces: map[string]time.Time{}}
	w.tokens.TTL = time.Hour
	return w
}

// AddUser registers an integration user of a Workday tenant (SOAP).
func (wd *Workday) AddUser(tenant, user, password string) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	wd.users[tenant+"/"+user] = password
}

// AddClient registers OAuth client credentials of a Workday tenant (REST).
func (wd *Workday) AddClient(tenant, id, secret string) { wd.tokens.addClient(tenant+"/"+id, secret) }

// ExpireTokensOnce invalidates every token issued so far at the next API call.
func (wd *Workday) ExpireTokensOnce() { wd.tokens.expireOnce() }

// AuthFailures is how many SOAP requests failed WS-Security.
func (wd *Workday) AuthFailures() int {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	return wd.authErr
}

// ServeHTTP serves Workday's SOAP and REST APIs, and the sandbox's control endpoints.
func (wd *Workday) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if serveControl(w, r, &wd.Faults, &wd.Ledger) {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/ccx/")
	parts := strings.Split(rest, "/")
	switch {
	case ok && len(parts) == 4 && parts[0] == "service" && parts[2] == "Impact_Reporting" && parts[3] == "v1":
		wd.soap(w, r, parts[1])
	case ok && len(parts) == 3 && parts[0] == "oauth2" && parts[2] == "token":
		wd.tokens.issue(w, r, parts[1]+"/")
	case ok && len(parts) == 5 && parts[0] == "api" && parts[1] == "impact" && parts[2] == "v1" && parts[4] == "impactData":
		wd.rest(w, r, parts[3])
	default:
		jsonError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

func soapFault(w http.ResponseWriter, code, msg, detail string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>`)
	b.WriteString(code)
	b.WriteString(`</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</faultstring>`)
	if detail != "" {
		b.WriteString(`<detail><wd:Validation_Fault xmlns:wd="urn:com.workday/bsvc"><wd:Detail_Message>`)
		_ = xml.EscapeText(&b, []byte(detail))
		b.WriteString(`</wd:Detail_Message></wd:Validation_Fault></detail>`)
	}
	b.WriteString(`</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	_, _ = io.WriteString(w, b.String())
}

type soapEnvelope struct {
	Header struct {
		Security struct {
			Token struct {
				Username string `xml:"Username"`
				Password struct {
					Type  string `xml:"Type,attr"`
					Value string `xml:",chardata"`
				} `xml:"Password"`
				Nonce   string `xml:"Nonce"`
				Created string `xml:"Created"`
			} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd UsernameToken"`
		} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Security"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		Request *struct {
			Data struct {
				ReferenceID string `xml:"Reference_ID"`
				Period      struct {
					Start string `xml:"Start_Date"`
					End   string `xml:"End_Date"`
				} `xml:"Period"`
				Lines []struct {
					ProgramID      string  `xml:"Program_ID"`
					VolunteerHours float64 `xml:"Volunteer_Hours"`
					Donation       float64 `xml:"Donation_Amount"`
					Participants   int     `xml:"Participant_Count"`
				} `xml:"Impact_Line_Data"`
			} `xml:"Impact_Data_Data"`
		} `xml:"urn:com.workday/bsvc Submit_Impact_Data_Request"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

const wsseDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

func (wd *Workday) soap(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		soapFault(w, "SOAP-ENV:Client", "POST only", "")
		return
	}
	f, slow, ra := wd.Faults.draw()
	if slow > 0 || f == fault429 {
		if applyFault(w, r, faultNone, slow, 0) {
			return
		}
		if f == fault429 {
			applyFault(w, r, f, 0, ra)
			return
		}
	}
	if f == fault500 {
		soapFault(w, "SOAP-ENV:Server", "Internal error (sandbox: injected)", "")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	var env soapEnvelope
	if err := xml.Unmarshal(raw, &env); err != nil {
		soapFault(w, "SOAP-ENV:Client", "Malformed SOAP envelope", err.Error())
		return
	}
	if msg := wd.checkToken(tenant, env); msg != "" {
		wd.mu.Lock()
		wd.authErr++
		wd.mu.Unlock()
		soapFault(w, "wsse:FailedAuthentication", "The security token could not be authenticated or authorized", msg)
		return
	}
	req := env.Body.Request
	if req == nil {
		soapFault(w, "SOAP-ENV:Client", "Validation error occurred.", "Submit_Impact_Data_Request is required")
		return
	}
	if msg := validPeriod(req.Data.Period.Start, req.Data.Period.End); msg != "" || req.Data.ReferenceID == "" {
		soapFault(w, "SOAP-ENV:Client", "Validation error occurred.", "Reference_ID and a valid Period are required")
		return
	}
	for _, l := range req.Data.Lines {
		if l.VolunteerHours < 0 || l.Donation < 0 || l.Participants < 0 {
			soapFault(w, "SOAP-ENV:Client", "Validation error occurred.", fmt.Sprintf("Impact_Line_Data for Program_ID %s has a negative value", l.ProgramID))
			return
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = req.Data.ReferenceID
	}
	d, dup, ok := wd.Ledger.acceptOrHang(r, Delivery{IdempotencyKey: key, Reference: req.Data.ReferenceID, Account: tenant + "/" + env.Header.Security.Token.Username, Body: raw}, f)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><wd:Submit_Impact_Data_Response xmlns:wd="urn:com.workday/bsvc"><wd:Receipt_ID>%s</wd:Receipt_ID><wd:Duplicate>%t</wd:Duplicate></wd:Submit_Impact_Data_Response></env:Body></env:Envelope>`, d.ReceiptID, dup)
}

// checkToken verifies the UsernameToken: a known user, a PasswordDigest of
// Base64(SHA-1(nonce + created + password)), Created within the window, a nonce never seen.
func (wd *Workday) checkToken(tenant string, env soapEnvelope) string {
	t := env.Header.Security.Token
	if t.Username == "" {
		return "wsse:Security with a UsernameToken is required"
	}
	if t.Password.Type != wsseDigestType {
		return "Password Type must be PasswordDigest"
	}
	created, err := time.Parse(time.RFC3339Nano, t.Created)
	if err != nil {
		return "Created must be an xsd:dateTime"
	}
	if d := time.Since(created); d > wd.Skew || d < -wd.Skew {
		return "Created is outside the accepted window"
	}
	nonce, err := base64.StdEncoding.DecodeString(t.Nonce)
	if err != nil || len(nonce) < 8 {
		return "Nonce must be Base64 of at least 8 bytes"
	}
	wd.mu.Lock()
	defer wd.mu.Unlock()
	password, ok := wd.users[tenant+"/"+t.Username]
	if !ok {
		return "unknown user for this tenant"
	}
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(t.Created))
	h.Write([]byte(password))
	want := base64.StdEncoding.EncodeToString(h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(t.Password.Value))) != 1 {
		return "password digest does not match"
	}
	for n, at := range wd.nonces {
		if time.Since(at) > 2*wd.Skew {
			delete(wd.nonces, n)
		}
	}
	if _, seen := wd.nonces[t.Nonce]; seen {
		return "nonce has been used before"
	}
	wd.nonces[t.Nonce] = time.Now()
	return ""
}

func (wd *Workday) rest(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST only")
		return
	}
	f, slow, ra := wd.Faults.draw()
	if applyFault(w, r, f, slow, ra) {
		return
	}
	client, msg := wd.tokens.check(r)
	if msg == "" && !strings.HasPrefix(client, tenant+"/") {
		msg = "token was issued for another tenant"
	}
	if msg != "" {
		jsonError(w, http.StatusUnauthorized, "invalid_token", msg)
		return
	}
	key := idempotencyKey(w, r)
	if key == "" {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	var in struct {
		ReferenceID string `json:"referenceId"`
		Start       string `json:"periodStartDate"`
		End         string `json:"periodEndDate"`
		Lines       []struct {
			ProgramID      string  `json:"programId"`
			VolunteerHours float64 `json:"volunteerHours"`
			DonationAmount float64 `json:"donationAmount"`
			Participants   int     `json:"participantCount"`
		} `json:"impactLines"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jsonError(w, http.StatusBadRequest, "invalid_json", err.Error())
		return
	}
	if p := validPeriod(in.Start, in.End); p != "" || in.ReferenceID == "" {
		jsonError(w, http.StatusUnprocessableEntity, "validation_failed", "referenceId and a valid period are required")
		return
	}
	for i, l := range in.Lines {
		if l.VolunteerHours < 0 || l.DonationAmount < 0 || l.Participants < 0 {
			jsonError(w, http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("impactLines[%d] (%s) has a negative value", i, l.ProgramID))
			return
		}
	}
	wd.Ledger.acceptJSON(w, r, Delivery{IdempotencyKey: key, Reference: in.ReferenceID, Account: client, Body: body}, f, "id")
}
