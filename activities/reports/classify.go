package reports

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/store"
)

// ErrTypeNoClassifier: the configured writer cannot classify evidence.
const ErrTypeNoClassifier = "NoClassifier"

// ClassifyPageInput asks for the next page of a tenant's unclassified snippets.
type ClassifyPageInput struct {
	TenantID string   `json:"tenant_id"`
	Programs []string `json:"programs"`
	After    string   `json:"after"` // the last snippet ID of the previous page
	Limit    int      `json:"limit"`
	// Count asks for the number of unclassified snippets as well (the first page).
	Count bool `json:"count,omitempty"`
}

// ClassifyPageResult is a page of snippet IDs (and text lengths, for cost estimates).
type ClassifyPageResult struct {
	Snippets []store.UnclassifiedRef `json:"snippets"`
	Total    int64                   `json:"total"`
}

// ClassifyPage lists the next unclassified snippets in ID order; nothing personal leaves
// it, only IDs and lengths.
func (a *Activities) ClassifyPage(ctx context.Context, in ClassifyPageInput) (ClassifyPageResult, error) {
	var res ClassifyPageResult
	var err error
	if in.Count {
		if res.Total, err = a.Store.CountUnclassified(ctx, in.TenantID, in.Programs); err != nil {
			return res, fmt.Errorf("count unclassified evidence: %w", err)
		}
	}
	if res.Snippets, err = a.Store.UnclassifiedEvidence(ctx, in.TenantID, in.Programs, in.After, in.Limit); err != nil {
		return res, fmt.Errorf("list unclassified evidence: %w", err)
	}
	return res, nil
}

// ClassifyBatchInput is one classification call.
type ClassifyBatchInput struct {
	TenantID   string   `json:"tenant_id"`
	SnippetIDs []string `json:"snippet_ids"`
	Model      string   `json:"model"`
	MaxTokens  int      `json:"max_tokens"`
	Problems   []string `json:"problems,omitempty"`
}

// ClassifyBatchResult is the classifier's answer and the snippets it was asked about
// (those of the batch that still exist).
type ClassifyBatchResult struct {
	Response   llm.ClassifyResponse `json:"response"`
	SnippetIDs []string             `json:"snippet_ids"`
}

// ClassifyBatch loads the snippets, redacts them (the names of the tenant's participants, the
// tenant's and the platform's names lists, and every other PII kind) and asks the
// classifier for their labels. Only the answer returns to the workflow: the texts, plain
// or redacted, stay here. Errors are mapped as for Write.
func (a *Activities) ClassifyBatch(ctx context.Context, in ClassifyBatchInput) (ClassifyBatchResult, error) {
	c, ok := llm.ClassifierFor(a.Writer)
	if !ok {
		return ClassifyBatchResult{}, temporal.NewNonRetryableApplicationError("the configured LLM writer cannot classify evidence", ErrTypeNoClassifier, nil)
	}
	refs := make([]store.EvidenceRef, len(in.SnippetIDs))
	for i, id := range in.SnippetIDs {
		refs[i] = store.EvidenceRef{SnippetID: id}
	}
	_, snippets, _, err := a.redactEvidence(ctx, in.TenantID, refs)
	if err != nil {
		return ClassifyBatchResult{}, err
	}
	res := ClassifyBatchResult{SnippetIDs: make([]string, len(snippets))}
	for i, s := range snippets {
		res.SnippetIDs[i] = s.ID
	}
	if len(snippets) == 0 {
		// Deleted since the page was read: nothing to ask, an empty (valid) answer.
		res.Response = llm.ClassifyResponse{Text: `{"items":[]}`, Model: in.Model, PromptVersion: llm.ClassifyPromptVersion, Offline: c.Offline()}
		return res, nil
	}
	start := time.Now()
	resp, err := c.Classify(ctx, llm.ClassifyRequest{Model: in.Model, MaxTokens: in.MaxTokens, Snippets: snippets, Problems: in.Problems})
	if err != nil {
		return ClassifyBatchResult{}, a.providerFailure(ctx, in.TenantID, in.Model, "classification", start, err)
	}
	if a.Metrics != nil && !resp.Offline {
		a.Metrics.Call(in.TenantID, resp.Model, "ok", time.Since(start), resp.TokensIn, resp.TokensOut, resp.CostMicros)
	}
	res.Response = resp
	return res, nil
}

// SaveLabelsInput is a checked batch of labels to store.
type SaveLabelsInput struct {
	TenantID string               `json:"tenant_id"`
	JobID    string               `json:"job_id"`
	Model    string               `json:"model"`
	At       time.Time            `json:"at"`
	Items    []llm.Classification `json:"items"`
}

// SaveLabels stores the labels on the snippets; a retry writes the same values.
func (a *Activities) SaveLabels(ctx context.Context, in SaveLabelsInput) (int64, error) {
	items := make([]store.SnippetLabels, len(in.Items))
	for i, it := range in.Items {
		ls := make([]store.OutcomeLabel, len(it.Labels))
		for j, l := range it.Labels {
			ls[j] = store.OutcomeLabel{Dimension: l.Dimension, Score: l.Score}
		}
		items[i] = store.SnippetLabels{SnippetID: it.SnippetID, Labels: ls}
	}
	n, err := a.Store.SaveClassifications(ctx, in.TenantID, in.JobID, in.Model, in.At, items)
	if err != nil {
		return 0, fmt.Errorf("save labels: %w", err)
	}
	return n, nil
}
