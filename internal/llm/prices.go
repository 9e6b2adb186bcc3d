package llm

import (
	"fmt"
	"strconv"
	"strings"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	InputPerMillion  float64 `json:"input_per_million"`
	OutputPerMillion float64 `json:"output_per_million"`
}

// Prices is the price table: one row per model, and Default for models it does not list
// (priced high on purpose, so an unknown model cannot overspend a budget).
type Prices struct {
	Models  map[string]Price
	Default Price
}

// DefaultPrices are list prices of common models; LLM_PRICES overrides or extends them.
func DefaultPrices() Prices {
	return Prices{
		Models: map[string]Price{
			"gpt-4o-mini":   {0.15, 0.60},
			"gpt-4o":        {2.50, 10.00},
			"gpt-4.1-mini":  {0.40, 1.60},
			"gpt-4.1-nano":  {0.10, 0.40},
			"gpt-4.1":       {2.00, 8.00},
			"gpt-3.5-turbo": {0.50, 1.50},
			"offline":       {0, 0},
		},
		Default: Price{5.00, 15.00},
	}
}

// ParsePrices reads overrides such as "gpt-4o-mini=0.15/0.60,my-model=1/2" (dollars per
// million input/output tokens) on top of DefaultPrices; "*" sets the default row.
func ParsePrices(s string) (Prices, error) {
	p := DefaultPrices()
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		model, rates, ok := strings.Cut(item, "=")
		in, out, ok2 := strings.Cut(rates, "/")
		if !ok || !ok2 || strings.TrimSpace(model) == "" {
			return Prices{}, fmt.Errorf("price %q must look like model=input/output", item)
		}
		fi, err1 := strconv.ParseFloat(strings.TrimSpace(in), 64)
		fo, err2 := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err1 != nil || err2 != nil || fi < 0 || fo < 0 {
			return Prices{}, fmt.Errorf("price %q must have non-negative numbers", item)
		}
		if model = strings.TrimSpace(model); model == "*" {
			p.Default = Price{fi, fo}
		} else {
			p.Models[model] = Price{fi, fo}
		}
	}
	return p, nil
}

// Of returns a model's price.
func (p Prices) Of(model string) Price {
	if pr, ok := p.Models[model]; ok {
		return pr
	}
	return p.Default
}

// CostMicros is what tokensIn and tokensOut of model cost, in millionths of a dollar,
// rounded up so that many small calls never add up to less than they cost.
func (p Prices) CostMicros(model string, tokensIn, tokensOut int) int64 {
	pr := p.Of(model)
	// dollars per million tokens == micro-dollars per token.
	c := float64(tokensIn)*pr.InputPerMillion + float64(tokensOut)*pr.OutputPerMillion
	n := int64(c)
	if float64(n) < c {
		n++
	}
	return n
}
