package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/impactflow/impactflow/internal/store"
)

// ExportFormat names the export document's layout, so a reader can tell versions apart.
const ExportFormat = "impactflow.participant-export/v1"

// Document is a participant's export: every record the platform holds about them, one
// array per table, rows as JSON objects with the table's column names.
type Document struct {
	Format        string                       `json:"format"`
	TenantID      string                       `json:"tenant_id"`
	ParticipantID string                       `json:"participant_id"`
	GeneratedAt   time.Time                    `json:"generated_at"`
	Postgres      map[string][]json.RawMessage `json:"postgres"`
	ClickHouse    map[string][]json.RawMessage `json:"clickhouse"`
}

// Counts is the number of rows per table, what a job's result may say about the data.
func (d Document) Counts() map[string]int {
	out := map[string]int{}
	for t, rows := range d.Postgres {
		out["postgres."+t] = len(rows)
	}
	for t, rows := range d.ClickHouse {
		out["clickhouse."+t] = len(rows)
	}
	return out
}

// exportQueries select a participant's rows per table ($1 the tenant, $2 the participant
// ID or their email and phone), each row as JSON.
var exportQueries = []struct {
	table     string
	byAddress bool // $2 is the email and phone rather than the ID
	sql       string
}{
	{"participants", false, `SELECT to_jsonb(t) FROM participants t WHERE tenant_id = $1 AND id = $2`},
	{"impact_events", false, `SELECT to_jsonb(t) FROM impact_events t WHERE tenant_id = $1 AND participant_id = $2 ORDER BY occurred_at, event_id`},
	// The evidence rows carry their classification labels (outcome_dimension, outcome_labels...).
	{"evidence_snippets", false, `SELECT to_jsonb(t) FROM evidence_snippets t WHERE tenant_id = $1 AND participant_id = $2 ORDER BY occurred_at, snippet_id`},
	{"report_citations", false, `SELECT to_jsonb(c) FROM report_citations c
		WHERE c.tenant_id = $1 AND c.snippet_id IN (SELECT snippet_id FROM evidence_snippets WHERE tenant_id = $1 AND participant_id = $2)
		ORDER BY c.report_id, c.section, c.paragraph`},
	{"report_paragraphs", false, `SELECT jsonb_build_object('report_id', c.report_id, 'section', c.section, 'paragraph', c.paragraph,
			'text', s.paragraphs -> c.paragraph -> 'text')
		FROM (SELECT DISTINCT report_id, section, paragraph FROM report_citations
		      WHERE tenant_id = $1 AND snippet_id IN (SELECT snippet_id FROM evidence_snippets WHERE tenant_id = $1 AND participant_id = $2)) c
		JOIN report_sections s ON s.report_id = c.report_id AND s.section = c.section
		ORDER BY c.report_id, c.section, c.paragraph`},
	{"notifications", true, `SELECT to_jsonb(t) FROM notifications t WHERE tenant_id = $1 AND recipients && $2::text[] ORDER BY created_at, id`},
	{"notification_messages", true, `SELECT to_jsonb(t) FROM notification_messages t WHERE tenant_id = $1 AND recipient = ANY($2::text[]) ORDER BY message_key`},
	{"notification_events", true, `SELECT to_jsonb(t) FROM notification_events t WHERE tenant_id = $1 AND recipient = ANY($2::text[]) ORDER BY occurred_at, id`},
	{"notification_outbox", true, `SELECT to_jsonb(t) FROM notification_outbox t WHERE tenant_id = $1 AND recipient = ANY($2::text[]) ORDER BY created_at, message_key`},
	{"notification_suppressions", true, `SELECT to_jsonb(t) FROM notification_suppressions t WHERE tenant_id = $1 AND address = ANY($2::text[]) ORDER BY channel, address`},
}

// BuildDocument gathers the subject's Postgres rows into a document; the caller adds the
// ClickHouse rows.
func (p Postgres) BuildDocument(ctx context.Context, s Subject, now time.Time) (Document, error) {
	d := Document{Format: ExportFormat, TenantID: s.TenantID, ParticipantID: s.ParticipantID, GeneratedAt: now.UTC(),
		Postgres: map[string][]json.RawMessage{}, ClickHouse: map[string][]json.RawMessage{}}
	addrs := s.addresses()
	if addrs == nil {
		addrs = []string{}
	}
	for _, q := range exportQueries {
		var by any = s.ParticipantID
		if q.byAddress {
			by = addrs
		}
		rows, err := p.Pool.Query(ctx, q.sql, s.TenantID, by)
		if err != nil {
			return Document{}, fmt.Errorf("export %s: %w", q.table, err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[json.RawMessage])
		if err != nil {
			return Document{}, fmt.Errorf("export %s: %w", q.table, err)
		}
		if out == nil {
			out = []json.RawMessage{}
		}
		d.Postgres[q.table] = out
	}
	return d, nil
}

// SaveExport stores the document under the job ID; saving again (a retried activity)
// replaces it. It returns the document's size and when it expires.
func (p Postgres) SaveExport(ctx context.Context, id string, d Document, now time.Time) (size int, expires time.Time, err error) {
	b, err := json.Marshal(d)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("encode export: %w", err)
	}
	expires = now.UTC().Add(ExportTTL)
	_, err = p.Pool.Exec(ctx, `
		INSERT INTO privacy_exports (id, tenant_id, participant_id, document, bytes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document, bytes = EXCLUDED.bytes,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		id, d.TenantID, d.ParticipantID, b, len(b), now.UTC(), expires)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("save export: %w", err)
	}
	return len(b), expires, nil
}

// Export is a stored export as its download serves it.
type Export struct {
	ID            string
	ParticipantID string
	Document      []byte
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// LoadExport returns the tenant's export; store.ErrNotFound when there is none, it belongs
// to another tenant or it has expired.
func (p Postgres) LoadExport(ctx context.Context, tenantID, id string, now time.Time) (Export, error) {
	e := Export{ID: id}
	err := p.Pool.QueryRow(ctx, `SELECT participant_id, document::text, created_at, expires_at FROM privacy_exports
		WHERE tenant_id = $1 AND id = $2 AND expires_at > $3`, tenantID, id, now).
		Scan(&e.ParticipantID, &e.Document, &e.CreatedAt, &e.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Export{}, store.ErrNotFound
	}
	if err != nil {
		return Export{}, fmt.Errorf("load export: %w", err)
	}
	return e, nil
}
