package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery statuses.
const (
	DeliveryPending    = "pending"
	DeliveryInProgress = "in_progress"
	DeliveryDelivered  = "delivered"
	DeliveryFailed     = "failed"
)

// Delivery is one push of a tenant's impact data for a period to a partner.
type Delivery struct {
	ID             string     `json:"id"`
	TenantID       string     `json:"tenant_id"`
	Partner        string     `json:"partner"`
	PeriodStart    time.Time  `json:"period_start"`
	PeriodEnd      time.Time  `json:"period_end"`
	Status         string     `json:"status"`
	PayloadHash    string     `json:"payload_hash,omitempty"`
	ReceiptID      string     `json:"receipt_id,omitempty"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error,omitempty"`
	LastHTTPStatus int        `json:"last_http_status,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

const deliveryColumns = `id, tenant_id, partner, period_start, period_end, status, coalesce(payload_hash, ''),
	coalesce(receipt_id, ''), attempts, coalesce(last_error, ''), coalesce(last_http_status, 0),
	created_at, updated_at, started_at, finished_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.TenantID, &d.Partner, &d.PeriodStart, &d.PeriodEnd, &d.Status, &d.PayloadHash,
		&d.ReceiptID, &d.Attempts, &d.LastError, &d.LastHTTPStatus, &d.CreatedAt, &d.UpdatedAt, &d.StartedAt, &d.FinishedAt)
	return d, notFound(err)
}

// CreateDelivery inserts the delivery as pending, or returns the one with this ID (a
// retried request with the same Idempotency-Key).
func (s *Store) CreateDelivery(ctx context.Context, d Delivery) (Delivery, error) {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO deliveries (id, tenant_id, partner, period_start, period_end)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.TenantID, d.Partner, d.PeriodStart, d.PeriodEnd)
	if err != nil {
		return Delivery{}, err
	}
	got, err := s.Delivery(ctx, d.TenantID, d.ID)
	if err != nil {
		return Delivery{}, err
	}
	if got.Partner != d.Partner || !got.PeriodStart.Equal(d.PeriodStart) || !got.PeriodEnd.Equal(d.PeriodEnd) {
		return Delivery{}, fmt.Errorf("%w: the Idempotency-Key was used for another delivery", ErrConflict)
	}
	return got, nil
}

// Delivery returns the tenant's delivery.
func (s *Store) Delivery(ctx context.Context, tenantID, id string) (Delivery, error) {
	return scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE tenant_id = $1 AND id = $2`, tenantID, id))
}

// StartDelivery stores the payload the delivery sends and marks it in progress. Run again
// (a retry, a reset) it stores the payload built from the data as it is now.
func (s *Store) StartDelivery(ctx context.Context, id, runID string, payload []byte, contentType, hash string) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE deliveries SET payload = $2, content_type = $3, payload_hash = $4, status = 'in_progress', run_id = $5,
			started_at = coalesce(started_at, now()), finished_at = NULL, updated_at = now()
		WHERE id = $1`, id, payload, contentType, hash, runID)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// DeliveryPayload returns what StartDelivery stored.
func (s *Store) DeliveryPayload(ctx context.Context, id string) (payload []byte, contentType, hash string, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce(payload, ''), coalesce(content_type, ''), coalesce(payload_hash, '') FROM deliveries WHERE id = $1`, id).
		Scan(&payload, &contentType, &hash)
	if err != nil {
		return nil, "", "", notFound(err)
	}
	if payload == nil {
		return nil, "", "", fmt.Errorf("%w: delivery %s has no payload yet", ErrNotFound, id)
	}
	return payload, contentType, hash, nil
}

// CountAttempt records that one more send attempt began. It counts real attempts (each
// HTTP request the partner may have seen), so it is not undone by a reset.
func (s *Store) CountAttempt(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, updated_at = now() WHERE id = $1`, id)
	return err
}

// DeliveryOutcome is how a delivery ended.
type DeliveryOutcome struct {
	Status         string // delivered | failed
	ReceiptID      string
	LastError      string
	LastHTTPStatus int
}

// FinishDelivery records the outcome; writing the same outcome twice changes nothing.
func (s *Store) FinishDelivery(ctx context.Context, id string, o DeliveryOutcome) error {
	if o.Status != DeliveryDelivered && o.Status != DeliveryFailed {
		return fmt.Errorf("finish delivery: bad status %q", o.Status)
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE deliveries SET status = $2, receipt_id = nullif($3, ''), last_error = nullif($4, ''),
			last_http_status = nullif($5, 0), finished_at = coalesce(finished_at, now()), updated_at = now()
		WHERE id = $1 AND (status, coalesce(receipt_id, ''), coalesce(last_error, ''), coalesce(last_http_status, 0), finished_at IS NOT NULL)
			IS DISTINCT FROM ($2, $3, $4, $5, true)`,
		id, o.Status, o.ReceiptID, o.LastError, o.LastHTTPStatus)
	return err
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	Partner  string
	Status   string
	From, To time.Time // created_at in [From, To); zero means open
	Limit    int
	Cursor   string // from the previous page
}

// DeliveryPage is one page of the log, newest first.
type DeliveryPage struct {
	Deliveries []Delivery `json:"deliveries"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// ErrBadCursor means the cursor was not one this store issued.
var ErrBadCursor = errors.New("bad cursor")

type cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// ListDeliveries pages the tenant's deliveries newest first, by (created_at, id) keyset.
func (s *Store) ListDeliveries(ctx context.Context, tenantID string, f DeliveryFilter) (DeliveryPage, error) {
	where := []string{"tenant_id = $1"}
	args := []any{tenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Partner != "" {
		add("partner = $%d", f.Partner)
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if !f.From.IsZero() {
		add("created_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("created_at < $%d", f.To)
	}
	if f.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		var c cursor
		if err != nil || json.Unmarshal(raw, &c) != nil || c.ID == "" {
			return DeliveryPage{}, ErrBadCursor
		}
		args = append(args, c.At, c.ID)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, f.Limit+1)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return DeliveryPage{}, err
	}
	defer rows.Close()
	page := DeliveryPage{Deliveries: make([]Delivery, 0, f.Limit+1)}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return DeliveryPage{}, err
		}
		page.Deliveries = append(page.Deliveries, d)
	}
	if err := rows.Err(); err != nil {
		return DeliveryPage{}, err
	}
	if len(page.Deliveries) > f.Limit {
		page.Deliveries = page.Deliveries[:f.Limit]
		last := page.Deliveries[f.Limit-1]
		b, _ := json.Marshal(cursor{At: last.CreatedAt, ID: last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}

// FailedDeliveryIDs lists up to limit of the tenant's failed deliveries, oldest first,
// optionally of one partner and created in [from, to).
func (s *Store) FailedDeliveryIDs(ctx context.Context, tenantID, partner string, from, to time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id FROM deliveries
		WHERE tenant_id = $1 AND status = 'failed' AND ($2 = '' OR partner = $2)
			AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
		ORDER BY created_at, id LIMIT $5`, tenantID, partner, nullTime(from), nullTime(to), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// DeliveryStats are counts and timings of a tenant's deliveries created in a window.
type DeliveryStats struct {
	Since       time.Time               `json:"since"`
	Total       int                     `json:"total"`
	ByPartner   map[string]StatusCounts `json:"by_partner"`
	SuccessRate *float64                `json:"success_rate"` // delivered / (delivered + failed); null when none finished
	Attempts    Percentiles             `json:"attempts"`
	// TimeToDeliver is seconds from creation to delivery, of delivered ones.
	TimeToDeliver Percentiles `json:"time_to_deliver_seconds"`
}

// StatusCounts counts deliveries by status.
type StatusCounts map[string]int

// Percentiles are the median and 95th percentile; null when there is no data.
type Percentiles struct {
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
}

// DeliveryStats aggregates the tenant's deliveries created since the given time.
func (s *Store) DeliveryStats(ctx context.Context, tenantID string, since time.Time) (DeliveryStats, error) {
	st := DeliveryStats{Since: since, ByPartner: map[string]StatusCounts{}}
	rows, err := s.pool.Query(ctx, `
		SELECT partner, status, count(*) FROM deliveries
		WHERE tenant_id = $1 AND created_at >= $2 GROUP BY partner, status`, tenantID, since)
	if err != nil {
		return DeliveryStats{}, err
	}
	var delivered, failed int
	for rows.Next() {
		var partner, status string
		var n int
		if err := rows.Scan(&partner, &status, &n); err != nil {
			rows.Close()
			return DeliveryStats{}, err
		}
		if st.ByPartner[partner] == nil {
			st.ByPartner[partner] = StatusCounts{}
		}
		st.ByPartner[partner][status] = n
		st.Total += n
		switch status {
		case DeliveryDelivered:
			delivered += n
		case DeliveryFailed:
			failed += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return DeliveryStats{}, err
	}
	if delivered+failed > 0 {
		r := float64(delivered) / float64(delivered+failed)
		st.SuccessRate = &r
	}
	err = s.pool.QueryRow(ctx, `
		SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY attempts) FILTER (WHERE status IN ('delivered', 'failed')),
		       percentile_cont(0.95) WITHIN GROUP (ORDER BY attempts) FILTER (WHERE status IN ('delivered', 'failed')),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) FILTER (WHERE status = 'delivered'),
		       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) FILTER (WHERE status = 'delivered')
		FROM deliveries WHERE tenant_id = $1 AND created_at >= $2`, tenantID, since).
		Scan(&st.Attempts.P50, &st.Attempts.P95, &st.TimeToDeliver.P50, &st.TimeToDeliver.P95)
	if err != nil {
		return DeliveryStats{}, err
	}
	return st, nil
}

// SealedCredentials are a tenant's partner credentials as stored: sealed, with the key ID.
type SealedCredentials struct {
	KeyID     string
	Sealed    []byte
	UpdatedAt time.Time
}

// PutPartnerCredentials stores the tenant's sealed credentials for the partner.
func (s *Store) PutPartnerCredentials(ctx context.Context, tenantID, partner string, c SealedCredentials) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO partner_credentials (tenant_id, partner, key_id, sealed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, partner) DO UPDATE SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed, updated_at = now()`,
		tenantID, partner, c.KeyID, c.Sealed)
	return err
}

// PartnerCredentials returns the tenant's sealed credentials for the partner.
func (s *Store) PartnerCredentials(ctx context.Context, tenantID, partner string) (SealedCredentials, error) {
	var c SealedCredentials
	err := s.pool.QueryRow(ctx, `SELECT key_id, sealed, updated_at FROM partner_credentials WHERE tenant_id = $1 AND partner = $2`,
		tenantID, partner).Scan(&c.KeyID, &c.Sealed, &c.UpdatedAt)
	return c, notFound(err)
}

// ProgramFigures is one program's impact in a period, as deliveries report it.
type ProgramFigures struct {
	Code           string
	Name           string
	VolunteerHours float64
	Donations      float64
	Participants   int
	Outcomes       int
	OutcomeScore   float64
}

// ImpactFigures sums the tenant's impact events in [from, to) per program.
func (s *Store) ImpactFigures(ctx context.Context, tenantID string, from, to time.Time) ([]ProgramFigures, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT p.code, p.name,
			coalesce(sum(e.value) FILTER (WHERE e.kind = 'volunteer_hours'), 0)::float8,
			coalesce(sum(e.value) FILTER (WHERE e.kind = 'donation'), 0)::float8,
			count(DISTINCT e.participant_id)::int,
			(count(*) FILTER (WHERE e.kind = 'outcome_measured'))::int,
			coalesce(round(avg(e.value) FILTER (WHERE e.kind = 'outcome_measured'), 2), 0)::float8
		FROM impact_events e JOIN programs p ON p.id = e.program_id
		WHERE e.tenant_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
		GROUP BY p.code, p.name ORDER BY p.code`, tenantID, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProgramFigures, error) {
		var f ProgramFigures
		err := r.Scan(&f.Code, &f.Name, &f.VolunteerHours, &f.Donations, &f.Participants, &f.Outcomes, &f.OutcomeScore)
		return f, err
	})
}
