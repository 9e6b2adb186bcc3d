package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutcomeLabel is one outcome dimension of a snippet and its score in [0, 1].
type OutcomeLabel struct {
	Dimension string  `json:"dimension"`
	Score     float64 `json:"score"`
}

// SnippetLabels are the classifier's labels of one snippet.
type SnippetLabels struct {
	SnippetID string         `json:"snippet_id"`
	Labels    []OutcomeLabel `json:"labels"`
}

// UnclassifiedRef is an unclassified snippet and its text's length, for cost estimates.
type UnclassifiedRef struct {
	SnippetID string `json:"snippet_id"`
	Chars     int    `json:"chars"`
}

// UnclassifiedEvidence returns up to limit of the tenant's unclassified snippets with IDs
// after after, in ID order, for the programs (all when none are given).
func (s *Store) UnclassifiedEvidence(ctx context.Context, tenantID string, programs []string, after string, limit int) ([]UnclassifiedRef, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT es.snippet_id, length(es.text)
		FROM evidence_snippets es
		WHERE es.tenant_id = $1 AND es.classified_at IS NULL AND es.snippet_id > $3
		  AND (cardinality($2::text[]) = 0 OR es.program_id IN (SELECT id FROM programs WHERE tenant_id = $1 AND code = ANY($2)))
		ORDER BY es.snippet_id
		LIMIT $4`, tenantID, nonNil(programs), after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnclassifiedRef, error) {
		var u UnclassifiedRef
		err := r.Scan(&u.SnippetID, &u.Chars)
		return u, err
	})
}

// CountUnclassified counts the tenant's unclassified snippets of the programs (all when none are given).
func (s *Store) CountUnclassified(ctx context.Context, tenantID string, programs []string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM evidence_snippets es
		WHERE es.tenant_id = $1 AND es.classified_at IS NULL
		  AND (cardinality($2::text[]) = 0 OR es.program_id IN (SELECT id FROM programs WHERE tenant_id = $1 AND code = ANY($2)))`,
		tenantID, nonNil(programs)).Scan(&n)
	return n, err
}

// SaveClassifications stores labels on the snippets: all of them in outcome_labels, the
// highest-scoring one as the primary outcome_dimension and outcome_score. Writing the same
// labels with the same at again changes nothing, so a retried batch is harmless.
func (s *Store) SaveClassifications(ctx context.Context, tenantID, jobID, model string, at time.Time, items []SnippetLabels) (int64, error) {
	ids := make([]string, len(items))
	labels := make([]string, len(items))
	dims := make([]*string, len(items))
	scores := make([]*float64, len(items))
	for i, it := range items {
		ids[i] = it.SnippetID
		ls := it.Labels
		if ls == nil {
			ls = []OutcomeLabel{}
		}
		b, err := json.Marshal(ls)
		if err != nil {
			return 0, err
		}
		labels[i] = string(b)
		for j := range ls {
			if dims[i] == nil || ls[j].Score > *scores[i] {
				dims[i], scores[i] = &ls[j].Dimension, &ls[j].Score
			}
		}
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE evidence_snippets es
		SET outcome_labels = v.labels::jsonb, outcome_dimension = v.dim, outcome_score = v.score,
		    classified_at = $3, classifier_model = $4, classifier_job_id = $5
		FROM unnest($2::text[], $6::text[], $7::text[], $8::float8[]) AS v(id, labels, dim, score)
		WHERE es.tenant_id = $1 AND es.snippet_id = v.id`,
		tenantID, ids, at, model, jobID, labels, dims, scores)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Evidence is one evidence snippet with the classifier's labels (Labels is nil until it
// is classified).
type Evidence struct {
	SnippetID        string         `json:"snippet_id"`
	Program          string         `json:"program"`
	ParticipantID    string         `json:"participant_id"`
	Source           string         `json:"source"`
	Text             string         `json:"text"`
	OccurredAt       time.Time      `json:"occurred_at"`
	Labels           []OutcomeLabel `json:"labels"`
	OutcomeDimension *string        `json:"outcome_dimension"`
	OutcomeScore     *float64       `json:"outcome_score"`
	ClassifiedAt     *time.Time     `json:"classified_at"`
	ClassifierModel  *string        `json:"classifier_model"`
	ClassifierJobID  *string        `json:"classifier_job_id"`
}

// EvidenceSnippet returns one of the tenant's snippets.
func (s *Store) EvidenceSnippet(ctx context.Context, tenantID, snippetID string) (Evidence, error) {
	var e Evidence
	var labels []byte
	err := s.pool.QueryRow(ctx, `
		SELECT es.snippet_id, p.code, es.participant_id, es.source, es.text, es.occurred_at, es.outcome_labels,
		       es.outcome_dimension, es.outcome_score, es.classified_at, es.classifier_model, es.classifier_job_id
		FROM evidence_snippets es JOIN programs p ON p.id = es.program_id
		WHERE es.tenant_id = $1 AND es.snippet_id = $2`, tenantID, snippetID).Scan(
		&e.SnippetID, &e.Program, &e.ParticipantID, &e.Source, &e.Text, &e.OccurredAt, &labels,
		&e.OutcomeDimension, &e.OutcomeScore, &e.ClassifiedAt, &e.ClassifierModel, &e.ClassifierJobID)
	if err != nil {
		return Evidence{}, notFound(err)
	}
	if labels != nil {
		if err := json.Unmarshal(labels, &e.Labels); err != nil {
			return Evidence{}, err
		}
	}
	return e, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
