// Package privacy carries out data-subject requests about one participant: an export of
// every record held about them (GDPR Art. 15 and 20) and their erasure from every store
// (Art. 17): Postgres, ClickHouse and what derives from it, the Redis caches, report
// texts and the Temporal histories whose payloads carry their data.
//
// The jobs that run these requests pass only the participant's pseudonymous ID through
// workflow payloads; the name, email and phone are looked up here, from Postgres, by the
// step that needs them, and never returned.
package privacy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/impactflow/impactflow/internal/store"
)

// ErasedMarker replaces an erased person's quotes, name, email and phone in texts that are
// kept (report paragraphs, citations, other people's evidence, notification subjects).
const ErasedMarker = "[erased]"

// ExportTTL is how long an export can be downloaded.
const ExportTTL = 7 * 24 * time.Hour

// Workflow type names. The API starts the jobs by name, so this package does not depend
// on the workflows (which depend on it).
const (
	ExportWorkflow = "PrivacyExportWorkflow"
	EraseWorkflow  = "PrivacyEraseWorkflow"
)

// ErrUnknownParticipant means the tenant holds no record of the participant.
var ErrUnknownParticipant = fmt.Errorf("unknown participant: %w", store.ErrNotFound)

// Subject is the person a request is about, as Postgres knows them. It stays inside the
// step that loaded it: it is never an activity's input or result.
type Subject struct {
	TenantID      string
	ParticipantID string
	FullName      string
	Email         string
	Phone         string
}

// addresses are the subject's email and phone, the ones they have.
func (s Subject) addresses() []string {
	var out []string
	for _, a := range []string{s.Email, s.Phone} {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// needles are the strings that identify the subject in free text: full name, email, phone.
func (s Subject) needles() []string {
	var out []string
	for _, a := range []string{s.FullName, s.Email, s.Phone} {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// ParticipantHash is what an erasure record keeps of the participant: a SHA-256 of the
// tenant and the ID, so a repeated request can be told apart from one about nobody.
func ParticipantHash(tenantID, participantID string) []byte {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + participantID))
	return sum[:]
}

// Postgres is the privacy library's view of the platform's Postgres database.
type Postgres struct {
	Pool *pgxpool.Pool
}

// LoadSubject returns the participant's record; known is false when the tenant holds
// nothing about them (no participant row, event or evidence).
func (p Postgres) LoadSubject(ctx context.Context, tenantID, participantID string) (s Subject, known bool, err error) {
	return loadSubject(ctx, p.Pool, tenantID, participantID)
}

func loadSubject(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, tenantID, participantID string) (Subject, bool, error) {
	s := Subject{TenantID: tenantID, ParticipantID: participantID}
	var row, events, evidence bool
	err := q.QueryRow(ctx, `
		SELECT coalesce((SELECT full_name FROM participants WHERE tenant_id = $1 AND id = $2), ''),
		       coalesce((SELECT email FROM participants WHERE tenant_id = $1 AND id = $2), ''),
		       coalesce((SELECT phone FROM participants WHERE tenant_id = $1 AND id = $2), ''),
		       EXISTS (SELECT 1 FROM participants WHERE tenant_id = $1 AND id = $2),
		       EXISTS (SELECT 1 FROM impact_events WHERE tenant_id = $1 AND participant_id = $2),
		       EXISTS (SELECT 1 FROM evidence_snippets WHERE tenant_id = $1 AND participant_id = $2)`,
		tenantID, participantID).Scan(&s.FullName, &s.Email, &s.Phone, &row, &events, &evidence)
	if err != nil {
		return Subject{}, false, fmt.Errorf("load participant: %w", err)
	}
	return s, row || events || evidence, nil
}

// ErasedBefore reports whether an erase job other than jobID has completed for the participant.
func (p Postgres) ErasedBefore(ctx context.Context, tenantID, participantID, jobID string) (bool, error) {
	var found bool
	err := p.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM privacy_erasures
		WHERE tenant_id = $1 AND participant_hash = $2 AND job_id <> $3 AND erased_at IS NOT NULL)`,
		tenantID, ParticipantHash(tenantID, participantID), jobID).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("read erasures: %w", err)
	}
	return found, nil
}

// RecordEraseRequest stores an erase request (its reason) under its job ID, once.
func (p Postgres) RecordEraseRequest(ctx context.Context, tenantID, participantID, jobID, reason string) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO privacy_erasures (job_id, tenant_id, participant_hash, reason)
		VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING`, jobID, tenantID, ParticipantHash(tenantID, participantID), reason)
	if err != nil {
		return fmt.Errorf("record erase request: %w", err)
	}
	return nil
}
