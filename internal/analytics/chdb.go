package analytics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// chDB is loaded lazily, from the path in the configuration. chdb-go's own packages open
// libchdb.so in an init function and panic when it is missing, which would make every
// binary and test that links this package depend on the library being installed; the
// binding below calls the same C API (chdb_connect, chdb_query, ...) through purego, the
// loader chdb-go uses, but only when the embedded backend is chosen.
type chdbLib struct {
	connect      func(argc int, argv []*byte) unsafe.Pointer
	closeConn    func(conn unsafe.Pointer)
	query        func(conn unsafe.Pointer, query string, format string) unsafe.Pointer
	destroy      func(result unsafe.Pointer)
	resultBuffer func(result unsafe.Pointer) *byte
	resultLen    func(result unsafe.Pointer) uint
	resultError  func(result unsafe.Pointer) string
}

var (
	libOnce sync.Once
	lib     *chdbLib
	libErr  error
	// libchdb holds one engine per process: a second chdb_connect closes the first.
	sessionMu   sync.Mutex
	sessionOpen bool
)

func loadCHDB(path string) (*chdbLib, error) {
	libOnce.Do(func() {
		if _, err := os.Stat(path); err != nil {
			libErr = fmt.Errorf("CHDB_LIB_PATH %s: %w (run scripts/setup.sh, or set CLICKHOUSE_URL)", path, err)
			return
		}
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			libErr = fmt.Errorf("CHDB_LIB_PATH %s: %w", path, err)
			return
		}
		l := &chdbLib{}
		purego.RegisterLibFunc(&l.connect, h, "chdb_connect")
		purego.RegisterLibFunc(&l.closeConn, h, "chdb_close_conn")
		purego.RegisterLibFunc(&l.query, h, "chdb_query")
		purego.RegisterLibFunc(&l.destroy, h, "chdb_destroy_query_result")
		purego.RegisterLibFunc(&l.resultBuffer, h, "chdb_result_buffer")
		purego.RegisterLibFunc(&l.resultLen, h, "chdb_result_length")
		purego.RegisterLibFunc(&l.resultError, h, "chdb_result_error")
		lib = l
	})
	return lib, libErr
}

// chdbConn is the process's one embedded engine, with its data under a directory.
type chdbConn struct {
	lib  *chdbLib
	conn unsafe.Pointer // chdb_connection*
	// mu serialises queries: the C connection is not documented as safe for concurrent use.
	mu     sync.Mutex
	closed bool
}

func openCHDB(libPath, dataDir string) (*chdbConn, error) {
	l, err := loadCHDB(libPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("chdb data dir: %w", err)
	}
	sessionMu.Lock()
	defer sessionMu.Unlock()
	if sessionOpen {
		return nil, errors.New("chdb: this process already has an open engine (one per process)")
	}
	args := []string{"clickhouse", "--path=" + dataDir}
	argv := make([]*byte, len(args))
	keep := make([][]byte, len(args))
	for i, a := range args {
		keep[i] = append([]byte(a), 0)
		argv[i] = &keep[i][0]
	}
	conn := l.connect(len(argv), argv)
	if conn == nil {
		return nil, fmt.Errorf("chdb: could not open an engine on %s", dataDir)
	}
	sessionOpen = true
	return &chdbConn{lib: l, conn: conn}, nil
}

// run executes one statement and returns its output in the given format.
func (c *chdbConn) run(ctx context.Context, query, format string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("chdb: engine closed")
	}
	// chdb_connect returns a pointer to a struct holding the connection; chdb_query takes
	// that struct by value, which is its one pointer field.
	res := c.lib.query(*(*unsafe.Pointer)(c.conn), query, format)
	if res == nil {
		return nil, nil
	}
	defer c.lib.destroy(res)
	if msg := c.lib.resultError(res); msg != "" {
		return nil, &QueryError{Message: msg}
	}
	n := int(c.lib.resultLen(res))
	if n == 0 {
		return nil, nil
	}
	buf := c.lib.resultBuffer(res)
	out := make([]byte, n)
	copy(out, unsafe.Slice(buf, n))
	return out, nil
}

func (c *chdbConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.lib.closeConn(c.conn)
	sessionMu.Lock()
	sessionOpen = false
	sessionMu.Unlock()
}

// QueryError is an error ClickHouse reported for a statement (as opposed to a connection
// failure).
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return "clickhouse: " + e.Message }
