// Package logging holds the process's log output: a buffered writer so that one log line
// per request does not cost one write system call per request.
package logging

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// flushEvery bounds how long a line may sit in the buffer.
const flushEvery = 100 * time.Millisecond

// Writer buffers log lines and writes them out at least every flushEvery, when the buffer
// fills, and on Close. A line is never split: slog hands over whole lines.
type Writer struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewWriter buffers writes to w.
func NewWriter(w io.Writer) *Writer {
	lw := &Writer{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go lw.flushLoop()
	return lw
}

// Write buffers p.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Flush()
}

// Close stops the flusher and writes out what is left. Safe to call once.
func (w *Writer) Close() error {
	close(w.stop)
	<-w.done
	return w.Flush()
}

func (w *Writer) flushLoop() {
	defer close(w.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.Flush()
		case <-w.stop:
			return
		}
	}
}
