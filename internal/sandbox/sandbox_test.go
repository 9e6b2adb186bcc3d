package sandbox

import "testing"

func TestFailuresInOrderThenEmpty(t *testing.T) {
	var f Failures
	f.Add(503, 429)
	f.Add(500)
	for _, want := range []int{503, 429, 500} {
		if got, ok := f.Next(); !ok || got != want {
			t.Fatalf("Next() = %d, %v; want %d, true", got, ok, want)
		}
	}
	if got, ok := f.Next(); ok {
		t.Fatalf("Next() on an empty queue = %d, true", got)
	}
	f.Add(502)
	f.Reset()
	if _, ok := f.Next(); ok {
		t.Fatal("Next() after Reset found a status")
	}
}
