// Package sandbox holds what the provider sandboxes (fcm, sendgrid, twilio) share.
package sandbox

import "sync"

// Failures is a queue of HTTP statuses to answer to the next valid requests instead of
// serving them. The zero value is empty and ready; it is safe for concurrent use.
type Failures struct {
	mu       sync.Mutex
	statuses []int
}

// Add queues statuses to answer to the next valid requests, in order.
func (f *Failures) Add(statuses ...int) {
	f.mu.Lock()
	f.statuses = append(f.statuses, statuses...)
	f.mu.Unlock()
}

// Next takes the next queued status; ok is false when none is queued.
func (f *Failures) Next() (status int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.statuses) == 0 {
		return 0, false
	}
	status, f.statuses = f.statuses[0], f.statuses[1:]
	return status, true
}

// Reset drops the queued statuses.
func (f *Failures) Reset() {
	f.mu.Lock()
	f.statuses = nil
	f.mu.Unlock()
}
