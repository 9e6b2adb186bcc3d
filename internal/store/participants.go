package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Participant is a participant's record. Events and evidence name participants by ID
// only; the record holds who they are, personal data that the report redactor reads to
// find them in free text and that an erasure removes.
type Participant struct {
	TenantID string `json:"-"`
	ID       string `json:"id"`
	FullName string `json:"full_name"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
	Locale   string `json:"locale"`
	// Attributes is a JSON object; nil is stored as {}.
	Attributes json.RawMessage `json:"attributes"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// UpsertParticipants creates or replaces participant records, keyed by tenant and ID: a
// record is replaced whole, and left alone (updated_at too) when it is unchanged. The IDs
// of one call must be distinct. The rows are copied into a temporary table first, so a
// batch of thousands is a few round trips.
func (s *Store) UpsertParticipants(ctx context.Context, ps []Participant) error {
	rows := make([][]any, 0, len(ps))
	for _, p := range ps {
		attrs := string(p.Attributes)
		if len(p.Attributes) == 0 {
			attrs = "{}"
		}
		rows = append(rows, []any{p.TenantID, p.ID, p.FullName, p.Email, p.Phone, p.Locale, attrs})
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE participants_in (LIKE participants INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"participants_in"},
		[]string{"tenant_id", "id", "full_name", "email", "phone", "locale", "attributes"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	// In key order, so that two batches sharing participants lock them in the same order.
	if _, err := tx.Exec(ctx, `
		INSERT INTO participants AS p (tenant_id, id, full_name, email, phone, locale, attributes)
		SELECT tenant_id, id, full_name, email, phone, locale, attributes FROM participants_in ORDER BY tenant_id, id
		ON CONFLICT (tenant_id, id) DO UPDATE SET full_name = EXCLUDED.full_name, email = EXCLUDED.email,
			phone = EXCLUDED.phone, locale = EXCLUDED.locale, attributes = EXCLUDED.attributes, updated_at = now()
		WHERE (p.full_name, p.email, p.phone, p.locale, p.attributes)
			IS DISTINCT FROM (EXCLUDED.full_name, EXCLUDED.email, EXCLUDED.phone, EXCLUDED.locale, EXCLUDED.attributes)`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

const participantColumns = `id, full_name, email, phone, locale, attributes, created_at, updated_at`

func scanParticipant(row pgx.Row, tenantID string) (Participant, error) {
	p := Participant{TenantID: tenantID}
	err := row.Scan(&p.ID, &p.FullName, &p.Email, &p.Phone, &p.Locale, &p.Attributes, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// Participant returns the tenant's participant; ErrNotFound when the tenant has none with
// that ID.
func (s *Store) Participant(ctx context.Context, tenantID, id string) (Participant, error) {
	p, err := scanParticipant(s.pool.QueryRow(ctx,
		`SELECT `+participantColumns+` FROM participants WHERE tenant_id = $1 AND id = $2`, tenantID, id), tenantID)
	return p, notFound(err)
}

// ListParticipants returns up to limit of the tenant's participants in ID order, starting
// after the ID after ("" for the first page). Paging by key rather than by offset keeps
// pages stable while records are added or removed, and costs the same on every page.
func (s *Store) ListParticipants(ctx context.Context, tenantID, after string, limit int) ([]Participant, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+participantColumns+` FROM participants
		WHERE tenant_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Participant, error) { return scanParticipant(r, tenantID) })
}

// DeleteParticipant deletes the tenant's participant record, only that row; ErrNotFound
// when there is none. Erasing a participant everywhere is the privacy_erase job's work.
func (s *Store) DeleteParticipant(ctx context.Context, tenantID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM participants WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// participantNames collects the names an import chunk's rows carry, by participant ID; the
// last row naming a participant wins. It is nil when no row carries a name, the usual case.
type participantNames map[string]string

func (n *participantNames) add(id, name string) {
	if name == "" {
		return
	}
	if *n == nil {
		*n = participantNames{}
	}
	(*n)[id] = name
}

// write sets the names in the chunk's transaction: a participant without a record gets one
// holding the name, a changed name is updated, an unchanged one is not touched, so that a
// retried chunk writes nothing new.
func (n participantNames) write(ctx context.Context, tx pgx.Tx, tenantID string) error {
	if len(n) == 0 {
		return nil
	}
	ids := make([]string, 0, len(n))
	for id := range n {
		ids = append(ids, id)
	}
	slices.Sort(ids) // concurrent chunks lock shared participants in the same order
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = n[id]
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO participants AS p (tenant_id, id, full_name)
		SELECT $1, t.id, t.name FROM unnest($2::text[], $3::text[]) AS t (id, name)
		ON CONFLICT (tenant_id, id) DO UPDATE SET full_name = EXCLUDED.full_name, updated_at = now()
		WHERE p.full_name IS DISTINCT FROM EXCLUDED.full_name`, tenantID, ids, names)
	return err
}

// ParticipantNames returns the full names of every participant record of the tenant: the
// redactor looks for all of them in free text, since evidence about one participant often
// names another.
func (s *Store) ParticipantNames(ctx context.Context, tenantID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT full_name FROM participants WHERE tenant_id = $1 AND full_name <> ''`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
