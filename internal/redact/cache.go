package redact

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Cache hands out Redactors by their names list, so that the reports of one tenant and
// period, which redact the same snippets with the same names, share one Redactor and its
// remembered matches. Finding is a score of regular-expression passes and a gazetteer
// lookup per word, and was a tenth of the process's CPU in a burst of reports; a text
// seen before costs a map lookup.
// What it remembers is the personal data found, held in this process's memory only (as
// the texts themselves are), never written anywhere. The zero Cache is ready to use.
type Cache struct {
	mu        sync.Mutex
	redactors map[[sha256.Size]byte]*Redactor
}

// Most Redactors and texts kept; past them a cache starts afresh rather than tracking use.
const (
	maxCachedRedactors = 64
	maxRememberedTexts = 4096
)

// For returns the Redactor for these names (in any order), building it when none is kept.
func (c *Cache) For(names ...string) *Redactor { return c.ForOptions(Options{}, names...) }

// ForOptions is For with options; Redactors with other options are kept apart.
func (c *Cache) ForOptions(opts Options, names ...string) *Redactor {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	key := sha256.Sum256([]byte(fmt.Sprintf("%t\x00%s\x00", opts.Aggressive, opts.Locale) + strings.Join(sorted, "\x00")))
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.redactors[key]; ok {
		return r
	}
	if c.redactors == nil || len(c.redactors) >= maxCachedRedactors {
		c.redactors = map[[sha256.Size]byte]*Redactor{}
	}
	r := NewWithOptions(opts, names...)
	r.memo = &memo{found: map[string][]Match{}}
	c.redactors[key] = r
	return r
}

// memo remembers what Find returned per text, for a Redactor handed out by a Cache.
type memo struct {
	mu    sync.Mutex
	found map[string][]Match
}

func (m *memo) get(text string) ([]Match, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.found[text]
	return ms, ok
}

func (m *memo) put(text string, ms []Match) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.found) >= maxRememberedTexts {
		m.found = map[string][]Match{}
	}
	m.found[text] = ms
}
