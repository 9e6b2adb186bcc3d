package metrics

import (
	"maps"
	"sync/atomic"
)

// cowMap is a copy-on-write map for caches that are read on every metric update and
// written once per key: a read is an atomic load and a map lookup, with no lock and
// no allocation; a write copies the map and must be serialised by the caller.
type cowMap[V any] struct {
	m atomic.Pointer[map[string]V]
}

func (c *cowMap[V]) load(k string) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadBytes is load for a key held in a byte slice, without converting it to a
// string first (the compiler elides the conversion in a map index).
func (c *cowMap[V]) loadBytes(k []byte) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[string(k)]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *cowMap[V]) store(k string, v V) {
	var next map[string]V
	if old := c.m.Load(); old != nil {
		next = make(map[string]V, len(*old)+1)
		maps.Copy(next, *old)
	} else {
		next = make(map[string]V, 1)
	}
	next[k] = v
	c.m.Store(&next)
}
