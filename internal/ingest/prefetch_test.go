package ingest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPrefetchGivesTheSplittersChunks(t *testing.T) {
	var body strings.Builder
	for i := range 25 {
		body.WriteString(`{"n":` + strings.Repeat("1", i+1) + "}\n")
	}
	direct := NewSplitter(strings.NewReader(body.String()), 4)
	p := NewPrefetch(NewSplitter(strings.NewReader(body.String()), 4), 2)
	defer p.Stop()
	for {
		want, wantErr := direct.Next()
		got, err := p.Next()
		if !errors.Is(err, wantErr) || got.Seq != want.Seq || !bytes.Equal(got.Data, want.Data) || len(got.Lines) != len(want.Lines) {
			t.Fatalf("prefetched chunk %d = %+v, %v; the splitter gives %+v, %v", want.Seq, got, err, want, wantErr)
		}
		if err != nil {
			break
		}
	}
	if _, err := p.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
	if !bytes.Equal(p.Sum(), direct.Sum()) {
		t.Error("the prefetched upload's hash differs")
	}
}

func TestPrefetchPassesOnSyntaxErrors(t *testing.T) {
	p := NewPrefetch(NewSplitter(strings.NewReader("{\"a\":1}\nnot json\n"), 1), 2)
	defer p.Stop()
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	var syntax *SyntaxError
	if _, err := p.Next(); !errors.As(err, &syntax) || syntax.Line != 2 {
		t.Fatalf("err = %v, want a SyntaxError on line 2", err)
	}
}

// TestPrefetchStopsEarly stops a prefetch that its reader left half read, its goroutine
// blocked on a full channel: Stop returns, and a second Stop too.
func TestPrefetchStopsEarly(t *testing.T) {
	p := NewPrefetch(NewSplitter(strings.NewReader(strings.Repeat("{\"a\":1}\n", 100)), 1), 1)
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	p.Stop()
}
