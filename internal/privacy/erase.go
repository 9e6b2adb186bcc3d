package privacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Counts is rows affected per table (deleted, or anonymised where the row is kept), what an
// erase job's history and result say about the data.
type Counts map[string]int64

// Total is the sum of the counts.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// ErasePostgres deletes or anonymises every Postgres record of the participant in one
// transaction and records the erasure under jobID (whose request row RecordEraseRequest
// wrote). Running it again for the same job returns what the first run recorded.
//
// Deleted: the participant row, their impact events (the delete trigger leaves a tombstone
// with the event ID only, which the ClickHouse sync needs), their evidence with its
// classification labels, the messages, outbox copies, provider events and suppressions of
// their email and phone, their exports, and their rows in staged uploads. Anonymised: report
// paragraphs and citations quoting their evidence or naming them, notifications that listed
// them among the recipients, other people's evidence, rules and schedules naming their
// address, and the tenant's redaction names list.
func (p Postgres) ErasePostgres(ctx context.Context, tenantID, participantID, jobID string) (Counts, error) {
	tx, err := p.Pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	defer tx.Rollback(ctx)

	var recorded []byte
	err = tx.QueryRow(ctx, `SELECT counts FROM privacy_erasures WHERE job_id = $1 AND tenant_id = $2 FOR UPDATE`, jobID, tenantID).Scan(&recorded)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("erase: no erase request for job %s", jobID)
	}
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	if recorded != nil {
		var c Counts
		if err := json.Unmarshal(recorded, &c); err != nil {
			return nil, fmt.Errorf("erase: recorded counts: %w", err)
		}
		return c, nil
	}

	s, _, err := loadSubject(ctx, tx, tenantID, participantID)
	if err != nil {
		return nil, err
	}
	e := eraser{tx: tx, s: s, counts: Counts{}}
	for _, step := range []func(context.Context) error{
		e.reports, e.evidence, e.events, e.notifications, e.uploads, e.exports, e.names, e.participant,
	} {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("erase: %w", err)
		}
	}
	counts, _ := json.Marshal(e.counts)
	if _, err := tx.Exec(ctx, `UPDATE privacy_erasures SET erased_at = now(), counts = $2 WHERE job_id = $1`, jobID, counts); err != nil {
		return nil, fmt.Errorf("erase: record: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("erase: commit: %w", err)
	}
	return e.counts, nil
}

// eraser is one erasure's transaction and what it has done so far.
type eraser struct {
	tx       pgx.Tx
	s        Subject
	counts   Counts
	snippets map[string]bool // the participant's evidence snippet IDs
}

func (e *eraser) exec(ctx context.Context, table, sql string, args ...any) error {
	tag, err := e.tx.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	if n := tag.RowsAffected(); n > 0 {
		e.counts[table] += n
	}
	return nil
}

// needleRegexp matches any of the person's name, email and phone, for Postgres' regexp_replace.
func (e *eraser) needleRegexp() string {
	var parts []string
	for _, n := range e.s.needles() {
		parts = append(parts, postgresRegexp(n))
	}
	return strings.Join(parts, "|")
}

// reports scrubs the report texts: citations of their evidence get the marker as the
// quote, and every paragraph of a section that cites it or names them loses their quotes,
// name, email and phone.
func (e *eraser) reports(ctx context.Context) error {
	rows, err := e.tx.Query(ctx, `SELECT snippet_id, text FROM evidence_snippets WHERE tenant_id = $1 AND participant_id = $2`,
		e.s.TenantID, e.s.ParticipantID)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	e.snippets = map[string]bool{}
	var quotes []string
	for rows.Next() {
		var id, text string
		if err := rows.Scan(&id, &text); err != nil {
			rows.Close()
			return fmt.Errorf("evidence: %w", err)
		}
		e.snippets[id] = true
		quotes = append(quotes, text)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	ids := keys(e.snippets)
	// The quotes as cited (a citation may quote part of a snippet) go too, wherever they appear.
	cited, err := e.tx.Query(ctx, `SELECT DISTINCT quote FROM report_citations WHERE tenant_id = $1 AND snippet_id = ANY($2::text[])`, e.s.TenantID, ids)
	if err != nil {
		return fmt.Errorf("report_citations: %w", err)
	}
	more, err := pgx.CollectRows(cited, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("report_citations: %w", err)
	}
	sc := newScrubber(e.s, append(quotes, more...))
	if sc.empty() && len(ids) == 0 {
		return nil
	}
	if err := e.exec(ctx, "report_citations", `UPDATE report_citations SET quote = $3
		WHERE tenant_id = $1 AND snippet_id = ANY($2::text[]) AND quote <> $3`, e.s.TenantID, ids, ErasedMarker); err != nil {
		return err
	}
	needle := e.needleRegexp()
	secs, err := e.tx.Query(ctx, `
		SELECT s.report_id, s.section, s.paragraphs::text FROM report_sections s
		JOIN report_lineage l ON l.report_id = s.report_id
		WHERE l.tenant_id = $1 AND (
			EXISTS (SELECT 1 FROM report_citations c WHERE c.report_id = s.report_id AND c.section = s.section AND c.snippet_id = ANY($2::text[]))
			OR ($3 <> '' AND s.paragraphs::text ~* $3))
		FOR UPDATE OF s`, e.s.TenantID, ids, needle)
	if err != nil {
		return fmt.Errorf("report_sections: %w", err)
	}
	type section struct{ report, name, paragraphs string }
	var found []section
	for secs.Next() {
		var s section
		if err := secs.Scan(&s.report, &s.name, &s.paragraphs); err != nil {
			secs.Close()
			return fmt.Errorf("report_sections: %w", err)
		}
		found = append(found, s)
	}
	secs.Close()
	if err := secs.Err(); err != nil {
		return fmt.Errorf("report_sections: %w", err)
	}
	for _, s := range found {
		out, changed, err := scrubParagraphs([]byte(s.paragraphs), e.snippets, sc)
		if err != nil {
			return fmt.Errorf("report_sections %s/%s: %w", s.report, s.name, err)
		}
		if !changed {
			continue
		}
		if err := e.exec(ctx, "report_sections", `UPDATE report_sections SET paragraphs = $3 WHERE report_id = $1 AND section = $2`,
			s.report, s.name, out); err != nil {
			return err
		}
	}
	// Other citations may quote a passage that names them (another person's evidence).
	if needle != "" {
		if err := e.exec(ctx, "report_citations", `UPDATE report_citations SET quote = regexp_replace(quote, $2, $3, 'gi')
			WHERE tenant_id = $1 AND quote ~* $2`, e.s.TenantID, needle, ErasedMarker); err != nil {
			return err
		}
	}
	return nil
}

// evidence deletes their snippets and takes their name, email and phone out of others'.
func (e *eraser) evidence(ctx context.Context) error {
	if err := e.exec(ctx, "evidence_snippets", `DELETE FROM evidence_snippets WHERE tenant_id = $1 AND participant_id = $2`,
		e.s.TenantID, e.s.ParticipantID); err != nil {
		return err
	}
	if needle := e.needleRegexp(); needle != "" {
		return e.exec(ctx, "evidence_snippets", `UPDATE evidence_snippets SET text = regexp_replace(text, $2, $3, 'gi'), updated_at = now()
			WHERE tenant_id = $1 AND text ~* $2`, e.s.TenantID, needle, ErasedMarker)
	}
	return nil
}

func (e *eraser) events(ctx context.Context) error {
	return e.exec(ctx, "impact_events", `DELETE FROM impact_events WHERE tenant_id = $1 AND participant_id = $2`,
		e.s.TenantID, e.s.ParticipantID)
}

// notifications deletes what was addressed to their email or phone and anonymises the
// notifications, rules and schedules that list it.
func (e *eraser) notifications(ctx context.Context) error {
	addrs := e.s.addresses()
	if len(addrs) == 0 {
		return nil
	}
	t := e.s.TenantID
	steps := []struct{ table, sql string }{
		{"notification_events", `DELETE FROM notification_events WHERE tenant_id = $1 AND recipient = ANY($2::text[])`},
		{"notification_outbox", `DELETE FROM notification_outbox WHERE tenant_id = $1 AND recipient = ANY($2::text[])`},
		{"notification_messages", `DELETE FROM notification_messages WHERE tenant_id = $1 AND recipient = ANY($2::text[])`},
		{"notification_suppressions", `DELETE FROM notification_suppressions WHERE tenant_id = $1 AND address = ANY($2::text[])`},
		{"notifications", `UPDATE notifications SET updated_at = now(),
			recipients = ARRAY(SELECT CASE WHEN r = ANY($2::text[]) THEN $3 ELSE r END FROM unnest(recipients) WITH ORDINALITY AS u(r, i) ORDER BY i),
			subject = CASE WHEN $4 = '' THEN subject ELSE regexp_replace(subject, $4, $3, 'gi') END,
			error = CASE WHEN $4 = '' THEN error ELSE regexp_replace(error, $4, $3, 'gi') END
			WHERE tenant_id = $1 AND recipients && $2::text[]`},
		{"notification_rules", `UPDATE notification_rules SET recipients = ARRAY(SELECT r FROM unnest(recipients) AS u(r) WHERE r <> ALL($2::text[]))
			WHERE tenant_id = $1 AND recipients && $2::text[]`},
	}
	for _, st := range steps {
		args := []any{t, addrs}
		if st.table == "notifications" {
			args = append(args, ErasedMarker, e.needleRegexp())
		}
		if err := e.exec(ctx, st.table, st.sql, args...); err != nil {
			return err
		}
	}
	// A schedule's stored request lists its recipients ("to") and its template data.
	if err := e.exec(ctx, "notification_schedules", `UPDATE notification_schedules
		SET request = jsonb_set(request, '{to}', (SELECT coalesce(jsonb_agg(a), '[]') FROM jsonb_array_elements(request -> 'to') AS u(a)
		                                          WHERE a #>> '{}' <> ALL($2::text[])))
		WHERE tenant_id = $1 AND jsonb_typeof(request -> 'to') = 'array'
		  AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(request -> 'to') AS r(a) WHERE r.a = ANY($2::text[]))`, t, addrs); err != nil {
		return err
	}
	return e.exec(ctx, "notification_schedules", `UPDATE notification_schedules
		SET request = regexp_replace(request::text, $2, $3, 'gi')::jsonb
		WHERE tenant_id = $1 AND request::text ~* $2`, t, e.needleRegexp(), ErasedMarker)
}

// uploads takes their rows out of staged uploads not yet imported (a done chunk keeps no
// data), and their name, email and phone out of recorded rejections.
func (e *eraser) uploads(ctx context.Context) error {
	rows, err := e.tx.Query(ctx, `
		SELECT c.job_id, c.seq, c.lines, c.data FROM import_chunks c
		JOIN import_uploads u ON u.job_id = c.job_id
		WHERE u.tenant_id = $1 AND length(c.data) > 0 AND position(convert_to($2, 'UTF8') IN c.data) > 0
		FOR UPDATE OF c`, e.s.TenantID, e.s.ParticipantID)
	if err != nil {
		return fmt.Errorf("import_chunks: %w", err)
	}
	type chunk struct {
		job   string
		seq   int
		lines []int32
		data  []byte
	}
	var found []chunk
	for rows.Next() {
		var c chunk
		if err := rows.Scan(&c.job, &c.seq, &c.lines, &c.data); err != nil {
			rows.Close()
			return fmt.Errorf("import_chunks: %w", err)
		}
		found = append(found, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("import_chunks: %w", err)
	}
	for _, c := range found {
		lines, data, removed := dropRows(c.lines, c.data, e.s)
		if removed == 0 {
			continue
		}
		if _, err := e.tx.Exec(ctx, `UPDATE import_chunks SET lines = $3, data = $4 WHERE job_id = $1 AND seq = $2`,
			c.job, c.seq, lines, data); err != nil {
			return fmt.Errorf("import_chunks: %w", err)
		}
		e.counts["import_chunks rows"] += int64(removed)
	}
	if needle := e.needleRegexp(); needle != "" {
		return e.exec(ctx, "import_chunks", `UPDATE import_chunks c SET rejections = regexp_replace(c.rejections::text, $2, $3, 'gi')::jsonb
			FROM import_uploads u WHERE u.job_id = c.job_id AND u.tenant_id = $1 AND c.rejections::text ~* $2`,
			e.s.TenantID, needle, ErasedMarker)
	}
	return nil
}

// dropRows removes the subject's rows from a staged chunk (NDJSON, one row per line, lines
// giving each row's line number in the upload): rows whose participant is theirs or
// that carry their name, email or phone.
func dropRows(lines []int32, data []byte, s Subject) (keptLines []int32, kept []byte, removed int) {
	rows := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	sc := newScrubber(Subject{FullName: s.FullName, Email: s.Email, Phone: s.Phone}, nil)
	var out bytes.Buffer
	for i, row := range rows {
		// Upload rows name the participant "participant"; other staged JSON "participant_id".
		var r struct {
			Participant   string `json:"participant"`
			ParticipantID string `json:"participant_id"`
		}
		_ = json.Unmarshal(row, &r)
		if r.Participant == s.ParticipantID || r.ParticipantID == s.ParticipantID || (!sc.empty() && sc.text(string(row)) != string(row)) {
			removed++
			continue
		}
		out.Write(row)
		out.WriteByte('\n')
		if i < len(lines) {
			keptLines = append(keptLines, lines[i])
		}
	}
	if keptLines == nil {
		keptLines = []int32{}
	}
	return keptLines, out.Bytes(), removed
}

func (e *eraser) exports(ctx context.Context) error {
	return e.exec(ctx, "privacy_exports", `DELETE FROM privacy_exports WHERE tenant_id = $1 AND participant_id = $2`,
		e.s.TenantID, e.s.ParticipantID)
}

// names takes their full name out of the tenant's redaction names list.
func (e *eraser) names(ctx context.Context) error {
	if e.s.FullName == "" {
		return nil
	}
	return e.exec(ctx, "tenant_ai_settings", `UPDATE tenant_ai_settings SET redaction_names = array_remove(redaction_names, $2), updated_at = now()
		WHERE tenant_id = $1 AND $2 = ANY(redaction_names)`, e.s.TenantID, e.s.FullName)
}

func (e *eraser) participant(ctx context.Context) error {
	return e.exec(ctx, "participants", `DELETE FROM participants WHERE tenant_id = $1 AND id = $2`, e.s.TenantID, e.s.ParticipantID)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
