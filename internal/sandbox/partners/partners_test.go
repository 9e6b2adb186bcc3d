package partners

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWindowCountsAndRefusesPastTheLimit(t *testing.T) {
	w := window{limit: 3, size: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := w.allow(t0.Add(time.Duration(i) * time.Second)); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := w.allow(t0.Add(5 * time.Second))
	if ok || wait != 5*time.Second {
		t.Fatalf("4th request: ok=%v wait=%s, want refused, 5s", ok, wait)
	}
	if ok, _ := w.allow(t0.Add(10*time.Second + time.Millisecond)); !ok {
		t.Fatal("request after the first left the window was refused")
	}
	if w.max != 3 || w.limited != 1 {
		t.Fatalf("max=%d limited=%d", w.max, w.limited)
	}
}

func TestControlEndpointSetsFaults(t *testing.T) {
	b := NewBenevity()
	srv := httptest.NewServer(b)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(`{"error_rate":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set faults: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, _ = http.Post(srv.URL+"/v1/impact-reports", "application/json", strings.NewReader(`{}`))
	if resp.StatusCode != 500 {
		t.Fatalf("with error_rate 1: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Post(srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(`{"error_rate":0.8,"timeout_rate":0.5}`))
	if resp.StatusCode != 400 {
		t.Fatalf("rates over 1: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
