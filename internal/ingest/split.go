// Package ingest stages and validates impact-data uploads: it cuts an upload into chunks
// of NDJSON rows (rejecting a malformed file outright) and turns each chunk's rows into
// records or per-row rejections.
package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Target is the table an upload goes to.
type Target string

// The import targets.
const (
	TargetEvents   Target = "events"
	TargetEvidence Target = "evidence"
)

// ChunkRows is how many rows a chunk holds: big enough that per-chunk overhead (a
// transaction, a heartbeat) is small, small enough that a chunk is a few MB at most.
const ChunkRows = 5000

// MaxRowBytes bounds one row.
const MaxRowBytes = 1 << 20

// readBufferBytes is the upload reader's buffer. Rows longer than it are gathered in the
// splitter's own buffer, up to MaxRowBytes: a reader of MaxRowBytes for every upload
// allocated 1 MiB per request, which for 10-row imports was a sixth of the dev process's
// CPU in bench job-start, most of it the garbage collector's.
const readBufferBytes = 64 << 10

// SyntaxError means the upload is not NDJSON objects nor a JSON array of objects.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Chunk is up to ChunkRows rows, each one compact JSON object ending in "\n", with the line
// of the upload (or the array index, from 1) each row came from.
type Chunk struct {
	Seq   int
	Lines []int32
	Data  []byte
}

// Splitter cuts an upload into chunks as it reads it, so memory stays bounded by a chunk.
type Splitter struct {
	r         *bufio.Reader
	long      []byte // a row longer than r's buffer, gathered
	dec       *json.Decoder
	sum       hash.Hash
	chunkRows int
	line      int
	seq       int
	rows      int
	started   bool
	array     bool
	done      bool
}

// NewSplitter reads an upload from r; the format (NDJSON or a JSON array) is detected from
// the first byte that is not white space.
func NewSplitter(r io.Reader, chunkRows int) *Splitter {
	sum := sha256.New()
	return &Splitter{r: bufio.NewReaderSize(io.TeeReader(r, sum), readBufferBytes), sum: sum, chunkRows: chunkRows}
}

// Rows is how many rows have been read so far.
func (s *Splitter) Rows() int { return s.rows }

// Sum is the SHA-256 of everything read; call it after Next returned io.EOF.
func (s *Splitter) Sum() []byte { return s.sum.Sum(nil) }

// Next returns the next chunk, io.EOF after the last, or a *SyntaxError.
func (s *Splitter) Next() (Chunk, error) {
	if s.done {
		return Chunk{}, io.EOF
	}
	if !s.started {
		if err := s.start(); err != nil {
			return Chunk{}, err
		}
	}
	c := Chunk{Seq: s.seq, Lines: make([]int32, 0, min(s.chunkRows, 1024))}
	var err error
	for len(c.Lines) < s.chunkRows {
		if s.array {
			err = s.nextElement(&c)
		} else {
			err = s.nextLine(&c)
		}
		if err != nil {
			break
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return Chunk{}, err
	}
	if errors.Is(err, io.EOF) {
		s.done = true
		if len(c.Lines) == 0 {
			if s.rows == 0 {
				return Chunk{}, &SyntaxError{Line: max(s.line, 1), Msg: "the upload has no rows"}
			}
			return Chunk{}, io.EOF
		}
	}
	s.seq++
	return c, nil
}

func (s *Splitter) start() error {
	s.started = true
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return &SyntaxError{Line: 1, Msg: "the upload is empty"}
		}
		switch b {
		case '\n':
			s.line++
			continue
		case ' ', '\t', '\r':
			continue
		case '[':
			s.array = true
			s.dec = json.NewDecoder(s.r)
			if err := s.r.UnreadByte(); err != nil {
				return err
			}
			_, err := s.dec.Token()
			return err
		case '{':
			return s.r.UnreadByte()
		default:
			return &SyntaxError{Line: 1, Msg: "expected NDJSON objects or a JSON array of objects"}
		}
	}
}

func (s *Splitter) nextLine(c *Chunk) error {
	for {
		line, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.long = append(s.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(s.long) > MaxRowBytes {
					return &SyntaxError{Line: s.line + 1, Msg: fmt.Sprintf("row longer than %d bytes", MaxRowBytes)}
				}
				line, err = s.r.ReadSlice('\n')
				s.long = append(s.long, line...)
			}
			line = s.long
		}
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return err
		}
		s.line++
		if len(line) > MaxRowBytes {
			return &SyntaxError{Line: s.line, Msg: fmt.Sprintf("row longer than %d bytes", MaxRowBytes)}
		}
		row := bytes.TrimSpace(line)
		if len(row) == 0 {
			if err != nil {
				return io.EOF
			}
			continue
		}
		if row[0] != '{' || !json.Valid(row) {
			return &SyntaxError{Line: s.line, Msg: "not a JSON object"}
		}
		c.Data = append(append(c.Data, row...), '\n')
		c.Lines = append(c.Lines, int32(s.line))
		s.rows++
		return nil
	}
}

func (s *Splitter) nextElement(c *Chunk) error {
	if !s.dec.More() {
		if _, err := s.dec.Token(); err != nil { // the closing bracket
			return &SyntaxError{Line: s.line + 1, Msg: "unterminated JSON array"}
		}
		if _, err := s.dec.Token(); !errors.Is(err, io.EOF) {
			return &SyntaxError{Line: s.line + 1, Msg: "unexpected data after the JSON array"}
		}
		return io.EOF
	}
	s.line++
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return &SyntaxError{Line: s.line, Msg: "invalid JSON: " + err.Error()}
	}
	if len(raw) == 0 || raw[0] != '{' {
		return &SyntaxError{Line: s.line, Msg: "array element is not a JSON object"}
	}
	if len(raw) > MaxRowBytes {
		return &SyntaxError{Line: s.line, Msg: fmt.Sprintf("row longer than %d bytes", MaxRowBytes)}
	}
	buf := bytes.NewBuffer(c.Data)
	if err := json.Compact(buf, raw); err != nil {
		return &SyntaxError{Line: s.line, Msg: "invalid JSON: " + err.Error()}
	}
	c.Data = append(buf.Bytes(), '\n')
	c.Lines = append(c.Lines, int32(s.line))
	s.rows++
	return nil
}
