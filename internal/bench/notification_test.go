package bench

import (
	"testing"
	"time"
)

func TestParseProcCPU(t *testing.T) {
	// Fields 14 and 15 (utime 250, stime 75 ticks) after a command name with a space
	// and a parenthesis in it.
	line := "4242 (impact (flow) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 31 0 100 2700000000 180000\n"
	got, err := parseProcCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Fatalf("CPU %s, want %s", got, want)
	}
	if _, err := parseProcCPU([]byte("4242 (short) S 1 2")); err == nil {
		t.Fatal("a truncated stat line parsed")
	}
	if _, err := parseProcCPU([]byte("no name here")); err == nil {
		t.Fatal("a line without a command name parsed")
	}
}
