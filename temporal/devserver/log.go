package devserver

import (
	"context"
	"log/slog"

	serverlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// minLevelHandler drops records below a level that can change while the server runs.
type minLevelHandler struct {
	next  slog.Handler
	level *slog.LevelVar
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.next.Enabled(ctx, l)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{next: h.next.WithAttrs(attrs), level: h.level}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{next: h.next.WithGroup(name), level: h.level}
}

// slogAdapter lets the server log through slog. Panic and Fatal are logged as errors and
// then panic: the server expects them not to return, and exiting the whole process from
// inside a library (what its own zap logger does) would skip the caller's cleanup.
type slogAdapter struct {
	log *slog.Logger
}

var (
	_ serverlog.Logger      = slogAdapter{}
	_ serverlog.WithLogger  = slogAdapter{}
	_ serverlog.SLogWrapper = slogAdapter{}
)

func (a slogAdapter) Debug(msg string, tags ...tag.Tag) { a.emit(slog.LevelDebug, msg, tags) }
func (a slogAdapter) Info(msg string, tags ...tag.Tag)  { a.emit(slog.LevelInfo, msg, tags) }
func (a slogAdapter) Warn(msg string, tags ...tag.Tag)  { a.emit(slog.LevelWarn, msg, tags) }
func (a slogAdapter) Error(msg string, tags ...tag.Tag) { a.emit(slog.LevelError, msg, tags) }

// DPanic only panics in development builds of zap; here it is an error like the rest.
func (a slogAdapter) DPanic(msg string, tags ...tag.Tag) { a.emit(slog.LevelError, msg, tags) }

func (a slogAdapter) Panic(msg string, tags ...tag.Tag) {
	a.emit(slog.LevelError, msg, tags)
	panic("temporal server: " + msg)
}

func (a slogAdapter) Fatal(msg string, tags ...tag.Tag) {
	a.emit(slog.LevelError, msg, tags)
	panic("temporal server: " + msg)
}

func (a slogAdapter) With(tags ...tag.Tag) serverlog.Logger {
	return slogAdapter{log: slog.New(a.log.Handler().WithAttrs(tagsToAttrs(tags)))}
}

// SLog hands the server's slog users (it converts some loggers to *slog.Logger) the same
// filtered logger instead of a wrapper around this adapter.
func (a slogAdapter) SLog() *slog.Logger { return a.log }

func (a slogAdapter) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !a.log.Enabled(ctx, level) {
		return
	}
	a.log.LogAttrs(ctx, level, msg, tagsToAttrs(tags)...)
}

func tagsToAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	return attrs
}
