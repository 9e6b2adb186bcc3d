package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/store"
)

// Limits of the participant and names routes.
const (
	maxParticipantRows      = 10000
	maxParticipantAttrs     = 4 << 10
	defaultParticipantsPage = 100
	maxParticipantsPage     = 500
	maxEmailChars           = 254
	maxPhoneChars           = 32
	maxLocaleChars          = 35
	minNameChars            = 2
	maxRedactionNames       = 10000
)

// participantTokenPrefix starts every participants page token, so that a token of another
// list (or a bare ID) is told apart.
const participantTokenPrefix = "p1:"

// participantRow is one record of POST /v1/participants.
type participantRow struct {
	ID         string          `json:"id"`
	FullName   string          `json:"full_name"`
	Email      string          `json:"email"`
	Phone      string          `json:"phone"`
	Locale     string          `json:"locale"`
	Attributes json.RawMessage `json:"attributes"`
}

// localePattern is a BCP 47 tag's shape: a language, then subtags (en, en-GB, pt-BR, zh-Hant-TW).
var localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)

// upsertParticipants creates or replaces the records of a JSON array or NDJSON body. The
// whole body is checked first: one bad row is a 400 naming it ([3].email) and writes nothing.
func (s *Server) upsertParticipants(c *gin.Context) {
	rows, err := bindParticipantRows(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	tenant := mustPrincipal(c).TenantID
	ps, err := participantRecords(tenant, rows)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.UpsertParticipants(c.Request.Context(), ps); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"upserted": len(ps)})
}

// bindParticipantRows reads the body as a JSON array (application/json) or one object a
// line (NDJSON); rows are numbered from 0 either way, NDJSON's blank lines not counted.
func bindParticipantRows(c *gin.Context) ([]participantRow, error) {
	mt, _, err := mime.ParseMediaType(c.ContentType())
	if err != nil || !uploadTypes[mt] {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send a JSON array (application/json) or NDJSON (application/x-ndjson)", Details: map[string]string{"field": "Content-Type"}}
	}
	body := c.Request.Body
	if mt != "application/json" {
		array, err := ndjsonArray(c.Request.Body)
		if err != nil {
			return nil, err
		}
		body = io.NopCloser(bytes.NewReader(array))
	}
	var rows []participantRow
	if err := decodeJSON(body, &rows); err != nil {
		return nil, err
	}
	switch {
	case len(rows) == 0:
		return nil, badRequest("body", "send at least one participant")
	case len(rows) > maxParticipantRows:
		return nil, badRequest("body", "at most %d participants a request, not %d", maxParticipantRows, len(rows))
	}
	return rows, nil
}

// ndjsonArray turns NDJSON into one JSON array, so that the rows decode, and their errors
// read, as an array's would.
func ndjsonArray(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteByte('[')
	row := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, badRequest(fmt.Sprintf("[%d]", row), "row %d (line %d) is not valid JSON", row, i+1)
		}
		if row > 0 {
			out.WriteByte(',')
		}
		out.Write(line)
		row++
	}
	out.WriteByte(']')
	return out.Bytes(), nil
}

// participantRecords checks the rows field by field and returns them as the tenant's
// records, trimmed.
func participantRecords(tenant string, rows []participantRow) ([]store.Participant, error) {
	ps := make([]store.Participant, len(rows))
	first := make(map[string]int, len(rows))
	for i, r := range rows {
		p, field, problem := participantRecord(r)
		if problem != "" {
			return nil, badRequest(fmt.Sprintf("[%d].%s", i, field), "[%d].%s %s", i, field, problem)
		}
		if j, dup := first[p.ID]; dup {
			return nil, badRequest(fmt.Sprintf("[%d].id", i), "[%d].id %q appears again; it is also [%d]", i, p.ID, j)
		}
		first[p.ID] = i
		p.TenantID = tenant
		ps[i] = p
	}
	return ps, nil
}

// participantRecord is the record a row asks for, or the field that is wrong and why.
func participantRecord(r participantRow) (p store.Participant, field, problem string) {
	p = store.Participant{ID: r.ID, FullName: strings.TrimSpace(r.FullName), Email: strings.TrimSpace(r.Email),
		Phone: strings.TrimSpace(r.Phone), Locale: strings.TrimSpace(r.Locale), Attributes: json.RawMessage("{}")}
	switch {
	case p.ID == "":
		return p, "id", "is required"
	case !ingest.ValidID(p.ID):
		return p, "id", "must be 1-128 letters, digits or . _ : - and start with a letter or digit"
	}
	if problem := ingest.NameProblem(p.FullName); problem != "" {
		return p, "full_name", problem
	}
	if problem := emailProblem(p.Email); problem != "" {
		return p, "email", problem
	}
	if problem := phoneProblem(p.Phone); problem != "" {
		return p, "phone", problem
	}
	if p.Locale != "" && (len(p.Locale) > maxLocaleChars || !localePattern.MatchString(p.Locale)) {
		return p, "locale", "must be a BCP 47 language tag such as en, en-GB or pt-BR"
	}
	if a := bytes.TrimSpace(r.Attributes); len(a) > 0 && string(a) != "null" {
		if a[0] != '{' {
			return p, "attributes", "must be a JSON object"
		}
		if len(a) > maxParticipantAttrs {
			return p, "attributes", fmt.Sprintf("must be at most %d bytes of JSON", maxParticipantAttrs)
		}
		p.Attributes = json.RawMessage(a)
	}
	return p, "", ""
}

func emailProblem(email string) string {
	if email == "" {
		return ""
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email || len(email) > maxEmailChars {
		return fmt.Sprintf("must be an email address such as ana@example.com, at most %d characters", maxEmailChars)
	}
	return ""
}

// phoneProblem accepts a phone number as people write one: digits with spaces, dashes,
// dots or brackets, an optional leading +, 7 to 15 digits (E.164's most).
func phoneProblem(phone string) string {
	if phone == "" {
		return ""
	}
	digits := 0
	for i, r := range phone {
		switch {
		case '0' <= r && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "must be a phone number: digits, spaces, - . ( ) and an optional leading +"
		}
	}
	if digits < 7 || digits > 15 || len(phone) > maxPhoneChars {
		return fmt.Sprintf("must have 7 to 15 digits and at most %d characters", maxPhoneChars)
	}
	return ""
}

func (s *Server) getParticipant(c *gin.Context) {
	p, err := s.store.Participant(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

type participantPage struct {
	Participants  []store.Participant `json:"participants"`
	NextPageToken string              `json:"next_page_token,omitempty"`
}

// listParticipants pages through the tenant's records in ID order. The page token names
// the last ID of the previous page, so a page is the same whatever was added before it.
func (s *Server) listParticipants(c *gin.Context) {
	limit := defaultParticipantsPage
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxParticipantsPage {
			s.fail(c, badRequest("limit", "limit must be between 1 and %d", maxParticipantsPage))
			return
		}
		limit = n
	}
	after, err := participantsAfter(c.Query("page_token"))
	if err != nil {
		s.fail(c, err)
		return
	}
	// One more than the page, to know whether another page follows.
	list, err := s.store.ListParticipants(c.Request.Context(), mustPrincipal(c).TenantID, after, limit+1)
	if err != nil {
		s.fail(c, err)
		return
	}
	page := participantPage{Participants: list}
	if len(list) > limit {
		page.Participants = list[:limit]
		page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(participantTokenPrefix + list[limit-1].ID))
	}
	if page.Participants == nil {
		page.Participants = []store.Participant{}
	}
	c.JSON(http.StatusOK, page)
}

// participantsAfter is the last ID of the page a token was issued for ("" for none).
func participantsAfter(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	id, ok := strings.CutPrefix(string(raw), participantTokenPrefix)
	if err != nil || !ok || !ingest.ValidID(id) {
		return "", badRequest("page_token", "page_token is not a token this API issued")
	}
	return id, nil
}

// namesList is the body of GET and PUT /v1/privacy/names.
type namesList struct {
	Names []string `json:"names"`
}

func (s *Server) getRedactionNames(c *gin.Context) {
	names, err := s.store.RedactionNames(c.Request.Context(), mustPrincipal(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, namesList{Names: names})
}

// putRedactionNames replaces the tenant's names list; the next report or classification
// redacts with it.
func (s *Server) putRedactionNames(c *gin.Context) {
	var req struct {
		Names *[]string `json:"names"`
	}
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Names == nil {
		s.fail(c, badRequest("names", "names is required: an array of strings ([] clears the list)"))
		return
	}
	names, err := redactionNames(*req.Names)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.SetRedactionNames(c.Request.Context(), mustPrincipal(c).TenantID, names); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, namesList{Names: names})
}

// redactionNames checks a names list and returns it trimmed, without repeats, in order.
func redactionNames(in []string) ([]string, error) {
	if len(in) > maxRedactionNames {
		return nil, badRequest("names", "names has %d entries; at most %d", len(in), maxRedactionNames)
	}
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, n := range in {
		n = strings.TrimSpace(n)
		field := fmt.Sprintf("names[%d]", i)
		if utf8.RuneCountInString(n) < minNameChars {
			return nil, badRequest(field, "%s must be at least %d characters", field, minNameChars)
		}
		if problem := ingest.NameProblem(n); problem != "" {
			return nil, badRequest(field, "%s %s", field, problem)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}
