package llm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/impactflow/impactflow/internal/retryafter"
)

// OpenAI writes sections with a model behind an OpenAI-compatible chat completions API.
type OpenAI struct {
	client *openai.Client
	model  string
	prices Prices
}

// OpenAIConfig configures an OpenAI writer.
type OpenAIConfig struct {
	BaseURL string
	APIKey  string
	Model   string // the default model, when a request names none
	Prices  Prices
	// HTTPClient is the transport; nil means one with a 2-minute timeout.
	HTTPClient *http.Client
}

// NewOpenAI returns a writer for any OpenAI-compatible base URL.
func NewOpenAI(c OpenAIConfig) *OpenAI {
	cfg := openai.DefaultConfig(c.APIKey)
	cfg.BaseURL = strings.TrimRight(c.BaseURL, "/")
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	cfg.HTTPClient = retryAfterDoer{hc}
	return &OpenAI{client: openai.NewClientWithConfig(cfg), model: c.Model, prices: c.Prices}
}

// Offline is false: the writer calls a model.
func (w *OpenAI) Offline() bool { return false }

// Write asks the model for one section. Errors are *ProviderError, whose Retryable says
// whether a later attempt can succeed; nothing here retries.
func (w *OpenAI) Write(ctx context.Context, req Request) (Response, error) {
	system, user, err := Messages(req)
	if err != nil {
		return Response{}, &ProviderError{Status: http.StatusBadRequest, Message: err.Error()}
	}
	return w.complete(ctx, openai.ChatCompletionRequest{
		Model:       req.Model,
		MaxTokens:   req.MaxTokens,
		Temperature: 0.2,
	}, system, user, PromptVersion)
}

// complete sends creq with the system and user messages and returns the answer, its usage
// and cost, as Write and Classify report them. Errors are *ProviderError (or the context's
// cancellation); nothing here retries. An empty model is the writer's own.
func (w *OpenAI) complete(ctx context.Context, creq openai.ChatCompletionRequest, system, user, promptVersion string) (Response, error) {
	if creq.Model == "" {
		creq.Model = w.model
	}
	creq.Messages = []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: system},
		{Role: openai.ChatMessageRoleUser, Content: user},
	}
	var retryAfter atomic.Int64
	ctx = context.WithValue(ctx, retryAfterKey{}, &retryAfter)
	start := time.Now()
	resp, err := w.client.CreateChatCompletion(ctx, creq)
	if err != nil {
		return Response{}, classify(err, time.Duration(retryAfter.Load()))
	}
	if len(resp.Choices) == 0 {
		return Response{}, &ProviderError{Status: http.StatusBadGateway, Message: "the model returned no choices"}
	}
	out := Response{
		Text:          resp.Choices[0].Message.Content,
		Model:         creq.Model,
		PromptVersion: promptVersion,
		TokensIn:      resp.Usage.PromptTokens,
		TokensOut:     resp.Usage.CompletionTokens,
		Duration:      time.Since(start),
	}
	if resp.Model != "" {
		out.Model = resp.Model
	}
	out.CostMicros = w.prices.CostMicros(creq.Model, out.TokensIn, out.TokensOut)
	return out, nil
}

// classify turns go-openai's errors into a ProviderError with the HTTP status.
func classify(err error, retryAfter time.Duration) error {
	var api *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &api):
		return &ProviderError{Status: api.HTTPStatusCode, RetryAfter: retryAfter, Message: api.Message}
	case errors.As(err, &reqErr):
		msg := http.StatusText(reqErr.HTTPStatusCode)
		if reqErr.Err != nil {
			msg = reqErr.Err.Error()
		}
		return &ProviderError{Status: reqErr.HTTPStatusCode, RetryAfter: retryAfter, Message: msg}
	case errors.Is(err, context.Canceled):
		return err
	default:
		return &ProviderError{Message: err.Error()}
	}
}

type retryAfterKey struct{}

// retryAfterDoer records a response's Retry-After in the request's context, since
// go-openai's errors do not carry headers.
type retryAfterDoer struct{ c *http.Client }

func (d retryAfterDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	if slot, ok := req.Context().Value(retryAfterKey{}).(*atomic.Int64); ok {
		slot.Store(int64(retryafter.Parse(resp.Header.Get("Retry-After"), time.Now())))
	}
	return resp, nil
}
