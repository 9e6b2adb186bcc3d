package partners

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Benevity is the Benevity sandbox: POST /v1/impact-reports, signed with HMAC-SHA256 over
// "<timestamp>.<body>" (hex, "v1=" prefix) with the account's secret; during a rotation
// two secrets are accepted.
type Benevity struct {
	Faults Faults
	Ledger Ledger
	// Skew is how far the timestamp may be from the sandbox's clock (default 5 minutes).
	Skew time.Duration

	mu       sync.Mutex
	secrets  map[string][]string
	badSigns int
}

// NewBenevity returns a Benevity sandbox with no accounts.
func NewBenevity() *Benevity { return &Benevity{Skew: 5 * time.Minute, secrets: map[string][]string{}} }

// SetSecrets sets the account's accepted signing secrets: one, or two during a rotation.
func (b *Benevity) SetSecrets(account string, secrets ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.secrets[account] = append([]string(nil), secrets...)
}

// BadSignatures is how many requests were refused for their signature or timestamp.
func (b *Benevity) BadSignatures() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.badSigns
}

// ServeHTTP serves Benevity's API and the sandbox's control endpoints.
func (b *Benevity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if serveControl(w, r, &b.Faults, &b.Ledger) {
		return
	}
	if r.URL.Path != "/v1/impact-reports" {
		jsonError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	if r.Method != http.MethodPost {
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST only")
		return
	}
	f, slow, ra := b.Faults.draw()
	if applyFault(w, r, f, slow, ra) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	if msg := b.verify(r, body); msg != "" {
		b.mu.Lock()
		b.badSigns++
		b.mu.Unlock()
		jsonError(w, http.StatusUnauthorized, "invalid_signature", msg)
		return
	}
	key := idempotencyKey(w, r)
	if key == "" {
		return
	}
	var rep benevityReport
	if err := json.Unmarshal(body, &rep); err != nil {
		jsonError(w, http.StatusBadRequest, "invalid_json", "body is not valid JSON: "+err.Error())
		return
	}
	if msg := rep.validate(); msg != "" {
		jsonError(w, http.StatusUnprocessableEntity, "validation_failed", msg)
		return
	}
	b.Ledger.acceptJSON(w, r, Delivery{IdempotencyKey: key, Reference: rep.Reference, Account: r.Header.Get("X-Benevity-Account"), Body: body}, f, "receiptId")
}

func (b *Benevity) verify(r *http.Request, body []byte) string {
	account := r.Header.Get("X-Benevity-Account")
	b.mu.Lock()
	secrets := b.secrets[account]
	b.mu.Unlock()
	if len(secrets) == 0 {
		return "unknown account"
	}
	ts := r.Header.Get("X-Benevity-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "X-Benevity-Timestamp must be Unix seconds"
	}
	if d := time.Since(time.Unix(sec, 0)); d > b.Skew || d < -b.Skew {
		return "timestamp outside the accepted window"
	}
	sig, ok := strings.CutPrefix(r.Header.Get("X-Benevity-Signature"), "v1=")
	got, err := hex.DecodeString(sig)
	if !ok || err != nil {
		return "X-Benevity-Signature must be v1=<hex>"
	}
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		fmt.Fprintf(m, "%s.", ts)
		m.Write(body)
		if hmac.Equal(got, m.Sum(nil)) {
			return ""
		}
	}
	return "signature does not match"
}

type benevityReport struct {
	Reference string `json:"reference"`
	Company   struct {
		ID string `json:"id"`
	} `json:"company"`
	Period struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"reportingPeriod"`
	Causes []struct {
		ProgramCode    string  `json:"programCode"`
		VolunteerHours float64 `json:"volunteerHours"`
		Donations      struct {
			Amount   float64 `json:"amount"`
			Currency string  `json:"currency"`
		} `json:"donationTotal"`
		ParticipantCount int `json:"participantCount"`
	} `json:"causes"`
}

func (r benevityReport) validate() string {
	if r.Reference == "" || r.Company.ID == "" {
		return "reference and company.id are required"
	}
	if msg := validPeriod(r.Period.From, r.Period.To); msg != "" {
		return "reportingPeriod: " + msg
	}
	from, _ := time.Parse(time.DateOnly, r.Period.From)
	to, _ := time.Parse(time.DateOnly, r.Period.To)
	days := to.Sub(from).Hours()/24 + 1
	for i, c := range r.Causes {
		// Benevity's plausibility check: nobody volunteers more than 24 hours a day.
		if c.ParticipantCount > 0 && c.VolunteerHours > 24*days*float64(c.ParticipantCount) {
			return fmt.Sprintf("causes[%d].volunteerHours (%g) exceeds 24 hours a day for %d participants over %g days",
				i, c.VolunteerHours, c.ParticipantCount, days)
		}
		switch {
		case c.ProgramCode == "":
			return fmt.Sprintf("causes[%d].programCode is required", i)
		case c.VolunteerHours < 0:
			return fmt.Sprintf("causes[%d].volunteerHours must not be negative (got %g)", i, c.VolunteerHours)
		case c.Donations.Amount < 0:
			return fmt.Sprintf("causes[%d].donationTotal.amount must not be negative (got %g)", i, c.Donations.Amount)
		case len(c.Donations.Currency) != 3:
			return fmt.Sprintf("causes[%d].donationTotal.currency must be an ISO 4217 code", i)
		case c.ParticipantCount < 0:
			return fmt.Sprintf("causes[%d].participantCount must not be negative", i)
		}
	}
	return ""
}

func validPeriod(from, to string) string {
	f, err1 := time.Parse(time.DateOnly, from)
	t, err2 := time.Parse(time.DateOnly, to)
	switch {
	case err1 != nil || err2 != nil:
		return "dates must be YYYY-MM-DD"
	case t.Before(f):
		return "end is before start"
	}
	return ""
}
