package ingest

import "sync"

// Prefetch runs a Splitter on a goroutine of its own, a few chunks ahead of its reader, so
// that parsing an upload overlaps with writing its chunks to Postgres. Call Stop before the
// upload's reader goes away (the end of the HTTP handler): it returns once the goroutine
// has, and a Prefetch read to the end has nothing left to stop.
type Prefetch struct {
	s       *Splitter
	chunks  chan prefetched
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
	err     error // the error that ended the chunks, io.EOF after the last
}

type prefetched struct {
	c   Chunk
	err error
}

// NewPrefetch starts reading s, up to ahead chunks before the caller's Next.
func NewPrefetch(s *Splitter, ahead int) *Prefetch {
	p := &Prefetch{s: s, chunks: make(chan prefetched, ahead), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			c, err := s.Next()
			select {
			case p.chunks <- prefetched{c, err}:
			case <-p.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// Next returns the next chunk, io.EOF after the last, or the splitter's error; once it
// has returned an error it returns the same again.
func (p *Prefetch) Next() (Chunk, error) {
	if p.err != nil {
		return Chunk{}, p.err
	}
	r := <-p.chunks
	p.err = r.err
	return r.c, r.err
}

// Sum is the SHA-256 of the upload; call it after Next returned io.EOF.
func (p *Prefetch) Sum() []byte { return p.s.Sum() }

// Stop ends the reading and waits for the goroutine to return.
func (p *Prefetch) Stop() {
	p.stopped.Do(func() { close(p.stop) })
	<-p.done
}
