package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Scrub makes what the server has deleted unreadable in its files. Deleted rows are
// zeroed as they go (secure_delete), but in WAL mode the pages as they were before stay in
// the write-ahead log until a checkpoint copies the newer ones back and the log restarts:
// an erased participant's encrypted payloads, which the tenant's live key still opens,
// were found there after their runs were deleted. Scrub checkpoints each file and
// truncates its log, retrying while the server's connection holds a read snapshot, until
// ctx ends. An in-memory server has nothing to scrub.
func (s *Server) Scrub(ctx context.Context) error {
	for _, file := range s.files {
		if err := checkpointTruncate(ctx, file); err != nil {
			return err
		}
	}
	return nil
}

func checkpointTruncate(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("scrub %s: %w", file, err)
	}
	defer db.Close()
	for {
		var busy, logFrames, checkpointed int
		err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
		if err != nil {
			return fmt.Errorf("scrub %s: checkpoint: %w", file, err)
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("scrub %s: the log is still in use: %w", file, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
