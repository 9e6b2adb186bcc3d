package api

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
)

// dependencyTimeout bounds each health probe, so that a hung dependency shows as down
// instead of hanging the probe.
const dependencyTimeout = 2 * time.Second

type dependencyStatus struct {
	Status    string  `json:"status"` // up | down
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

func (s *Server) health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": s.version})
}

func (s *Server) live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "alive"})
}

// ready is 200 when Postgres, Redis and Temporal all answer, else 503 naming the failing.
func (s *Server) ready(c *gin.Context) {
	deps := s.probe(c.Request.Context())
	var failing []string
	for name, d := range deps {
		if d.Status != "up" {
			failing = append(failing, name)
		}
	}
	sort.Strings(failing)
	if len(failing) > 0 {
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "failing": failing, "dependencies": deps})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "dependencies": deps})
}

func (s *Server) dependencies(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"dependencies": s.probe(c.Request.Context())})
}

func (s *Server) cache(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"jobs": s.jobs.Stats(), "redis": s.probe(c.Request.Context())["redis"],
		"analytics": s.analyticsCacheStats(c.Request.Context())})
}

// probe checks every dependency at once.
func (s *Server) probe(ctx context.Context) map[string]dependencyStatus {
	checks := map[string]func(context.Context) error{
		"postgres": s.store.Ping,
		"redis":    func(ctx context.Context) error { return s.redis.Ping(ctx).Err() },
		"temporal": func(ctx context.Context) error {
			_, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
	out := make(map[string]dependencyStatus, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, dependencyTimeout)
			defer cancel()
			start := time.Now()
			err := check(ctx)
			d := dependencyStatus{Status: "up", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				d.Status, d.Error = "down", err.Error()
			}
			mu.Lock()
			out[name] = d
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
