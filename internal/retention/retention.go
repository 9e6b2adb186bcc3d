// Package retention says how long each class of a tenant's data is kept: the classes, the
// platform defaults and the bounds a tenant's own setting must stay within. The daily
// privacy-retention schedule deletes what is older; Temporal's namespace retention stays
// the cap for workflow histories.
package retention

import (
	"fmt"
	"time"
)

// Class is a kind of tenant data with a retention period of its own.
type Class string

// The data classes.
const (
	// Events are impact events, by the time they happened; ClickHouse follows through the
	// sync's tombstones.
	Events Class = "events"
	// Evidence is free-text evidence, by the time it was collected.
	Evidence Class = "evidence"
	// ReportTexts are a report's sections and citations; its lineage (cost, model) stays.
	ReportTexts Class = "report_texts"
	// NotificationMessages are notifications with their recipients, messages, provider
	// events and stored email bodies.
	NotificationMessages Class = "notification_messages"
	// DeliveryPayloads are the bodies sent to partners; the delivery record stays.
	DeliveryPayloads Class = "delivery_payloads"
	// StagedUploads are import uploads staged as chunks.
	StagedUploads Class = "staged_uploads"
	// Exports are the documents of data-subject access requests, after their download
	// window of seven days.
	Exports Class = "exports"
)

// Classes lists every class, in the order a retention run purges them.
var Classes = []Class{Events, Evidence, ReportTexts, NotificationMessages, DeliveryPayloads, StagedUploads, Exports}

// The bounds of a retention period, in days: a month at least, seven years at most.
const (
	MinDays = 30
	MaxDays = 2555
)

// defaults are the periods of a tenant that has not set its own. Impact figures and reports
// feed multi-year reporting; what names a person directly (notifications, payloads sent to
// partners, uploads, exports) goes sooner.
var defaults = map[Class]int{
	Events:               2555,
	Evidence:             1095,
	ReportTexts:          2555,
	NotificationMessages: 365,
	DeliveryPayloads:     90,
	StagedUploads:        30,
	Exports:              30,
}

// Default returns the platform's period for class c, in days.
func Default(c Class) int { return defaults[c] }

// Valid reports whether c is a known class.
func (c Class) Valid() bool {
	_, ok := defaults[c]
	return ok
}

// CheckDays returns an error when days is outside [MinDays, MaxDays].
func CheckDays(days int) error {
	if days < MinDays || days > MaxDays {
		return fmt.Errorf("must be between %d and %d days, got %d", MinDays, MaxDays, days)
	}
	return nil
}

// Policy is a tenant's retention: its own periods, by class, over the defaults.
type Policy struct {
	Overrides map[Class]int
}

// Days returns the period of class c under this policy.
func (p Policy) Days(c Class) int {
	if d, ok := p.Overrides[c]; ok {
		return d
	}
	return Default(c)
}

// Cutoff returns the instant before which data of class c is past retention at asOf.
func (p Policy) Cutoff(c Class, asOf time.Time) time.Time {
	return asOf.AddDate(0, 0, -p.Days(c))
}
