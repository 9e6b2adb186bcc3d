package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/impactflow/impactflow/internal/retention"
)

// RetentionPolicy returns a tenant's retention: its own periods over the defaults.
func (s *Store) RetentionPolicy(ctx context.Context, tenantID string) (retention.Policy, error) {
	rows, err := s.pool.Query(ctx, `SELECT class, days FROM tenant_retention WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return retention.Policy{}, err
	}
	p := retention.Policy{Overrides: map[retention.Class]int{}}
	var class string
	var days int
	_, err = pgx.ForEachRow(rows, []any{&class, &days}, func() error {
		p.Overrides[retention.Class(class)] = days
		return nil
	})
	return p, err
}

// SetRetention sets a tenant's periods in one transaction: a class mapped to nil goes back
// to the default. Classes and days are checked by the caller (retention.CheckDays).
func (s *Store) SetRetention(ctx context.Context, tenantID string, days map[retention.Class]*int) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for class, d := range days {
			var err error
			if d == nil {
				_, err = tx.Exec(ctx, `DELETE FROM tenant_retention WHERE tenant_id = $1 AND class = $2`, tenantID, class)
			} else {
				_, err = tx.Exec(ctx, `
					INSERT INTO tenant_retention (tenant_id, class, days) VALUES ($1, $2, $3)
					ON CONFLICT (tenant_id, class) DO UPDATE SET days = EXCLUDED.days, updated_at = now()`,
					tenantID, class, *d)
			}
			if err != nil {
				return fmt.Errorf("retention of %s: %w", class, err)
			}
		}
		return nil
	})
}

// TenantsAfter returns up to limit tenant IDs after the given one, in order, for jobs that
// walk every tenant.
func (s *Store) TenantsAfter(ctx context.Context, after string, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM tenants WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// purgeStatements delete one batch of a class's rows older than $2 for tenant $1, at most
// $3 of them, and return how many went. Each batch is one short statement, so a purge of
// millions of rows never holds long locks and resumes where it stopped.
var purgeStatements = map[retention.Class]string{
	// The tombstone trigger of impact_events records each delete for the ClickHouse sync.
	retention.Events: `
		WITH doomed AS (
			SELECT event_id FROM impact_events WHERE tenant_id = $1 AND occurred_at < $2 LIMIT $3)
		DELETE FROM impact_events e USING doomed d WHERE e.tenant_id = $1 AND e.event_id = d.event_id`,
	retention.Evidence: `
		WITH doomed AS (
			SELECT snippet_id FROM evidence_snippets WHERE tenant_id = $1 AND occurred_at < $2 LIMIT $3)
		DELETE FROM evidence_snippets e USING doomed d WHERE e.tenant_id = $1 AND e.snippet_id = d.snippet_id`,
	// A report's sections go with their citations (ON DELETE CASCADE); the lineage stays
	// and records when its texts went. A batch counts the sections deleted.
	retention.ReportTexts: `
		WITH doomed AS (
			SELECT report_id FROM report_lineage
			WHERE tenant_id = $1 AND created_at < $2 AND texts_purged_at IS NULL LIMIT $3),
		marked AS (
			UPDATE report_lineage l SET texts_purged_at = now() FROM doomed d WHERE l.report_id = d.report_id)
		DELETE FROM report_sections s USING doomed d WHERE s.report_id = d.report_id`,
	// A notification goes whole: provider events, stored bodies, messages, then the row
	// with its recipients. Data-modifying CTEs all see the same snapshot, so the child rows
	// are deleted by the doomed IDs, not through the parent.
	retention.NotificationMessages: `
		WITH doomed AS (
			SELECT id FROM notifications WHERE tenant_id = $1 AND created_at < $2
			AND status NOT IN ('scheduled', 'sending', 'deferred') LIMIT $3),
		ev AS (DELETE FROM notification_events e USING doomed d WHERE e.notification_id = d.id),
		ob AS (DELETE FROM notification_outbox o USING doomed d WHERE o.notification_id = d.id),
		msg AS (DELETE FROM notification_messages m USING doomed d WHERE m.notification_id = d.id)
		DELETE FROM notifications n USING doomed d WHERE n.id = d.id`,
	retention.DeliveryPayloads: `
		WITH doomed AS (
			SELECT id FROM deliveries WHERE tenant_id = $1 AND created_at < $2 AND payload IS NOT NULL
			AND status IN ('delivered', 'failed') LIMIT $3)
		UPDATE deliveries x SET payload = NULL, updated_at = now() FROM doomed d WHERE x.id = d.id`,
	// Chunks go with their upload (ON DELETE CASCADE).
	retention.StagedUploads: `
		WITH doomed AS (
			SELECT job_id FROM import_uploads WHERE tenant_id = $1 AND created_at < $2 LIMIT $3)
		DELETE FROM import_uploads u USING doomed d WHERE u.job_id = d.job_id`,
	retention.Exports: `
		WITH doomed AS (
			SELECT id FROM privacy_exports WHERE tenant_id = $1 AND created_at < $2 LIMIT $3)
		DELETE FROM privacy_exports e USING doomed d WHERE e.id = d.id`,
}

// ErrNoSuchClass means a purge named a data class the store has no statement for.
var ErrNoSuchClass = errors.New("no such data class")

// PurgeExpired deletes one batch of at most limit rows of class c that a tenant keeps from
// before cutoff, and returns how many it deleted: fewer than limit means none are left.
func (s *Store) PurgeExpired(ctx context.Context, tenantID string, c retention.Class, cutoff time.Time, limit int) (int64, error) {
	stmt, ok := purgeStatements[c]
	if !ok {
		return 0, fmt.Errorf("purge %s: %w", c, ErrNoSuchClass)
	}
	tag, err := s.pool.Exec(ctx, stmt, tenantID, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("purge %s of %s: %w", c, tenantID, err)
	}
	return tag.RowsAffected(), nil
}
