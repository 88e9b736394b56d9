package s3_test

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/s3"
)

const hour = int64(time.Hour / time.Millisecond)

// t0 is 2026-01-01T05:00:00Z in epoch milliseconds.
var t0 = time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC).UnixMilli()

func encodeString(dst []byte, v string) []byte { return append(dst, v...) }

func newSink(t *testing.T, e *testEnv, prefix string, opts ...s3.SinkOption) *s3.Sink[string] {
	t.Helper()
	s, err := s3.NewSink(e.url(prefix), encodeString, append([]s3.SinkOption{s3.SinkConnection(e.conn)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWriter(t *testing.T, s *s3.Sink[string], subtask, attempt int) connector.Writer[string] {
	t.Helper()
	w, err := s.NewWriter(t.Context(), connector.SinkContext{Subtask: subtask, Parallelism: 1, Attempt: attempt})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newCommitter(t *testing.T, s *s3.Sink[string]) connector.Committer {
	t.Helper()
	c, err := s.NewCommitter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, w connector.Writer[string], ts int64, vals ...string) {
	t.Helper()
	for _, v := range vals {
		if err := w.Write(t.Context(), v, ts); err != nil {
			t.Fatal(err)
		}
	}
}

func preCommit(t *testing.T, w connector.Writer[string], id int64) []connector.Committable {
	t.Helper()
	cs, err := w.PreCommit(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func commit(t *testing.T, c connector.Committer, cs []connector.Committable) {
	t.Helper()
	if err := c.Commit(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
}

func rows(vals ...string) map[string]int {
	m := map[string]int{}
	for _, v := range vals {
		m[v]++
	}
	return m
}

func wantLines(t *testing.T, objs map[string]string, want map[string]int) {
	t.Helper()
	if got := lines(objs); !maps.Equal(got, want) {
		t.Fatalf("visible lines = %v, want %v (objects %v)", got, want, slices.Sorted(maps.Keys(objs)))
	}
}

// TestSinkTwoPhaseCommit: pre-committed parts are invisible, Commit makes them visible under
// Hive-style keys, recommitting is a no-op, Abort after Commit unpublishes nothing.
func TestSinkTwoPhaseCommit(t *testing.T) {
	e := newEnv(t)
	s := newSink(t, e, "out")
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)

	write(t, w, t0, "a1", "a2")
	write(t, w, t0+hour+1, "b1")
	cs := preCommit(t, w, 1)
	if len(cs) != 2 {
		t.Fatalf("%d committables, want one per partition (2)", len(cs))
	}
	if objs := e.objects(t, ""); len(objs) != 0 {
		t.Fatalf("pre-committed parts are visible: %v", objs)
	}
	if u := e.uploads(t); len(u) != 2 {
		t.Fatalf("incomplete uploads %v, want 2", u)
	}
	commit(t, c, cs)
	objs := e.objects(t, "")
	wantLines(t, objs, rows("a1", "a2", "b1"))
	for k := range objs {
		if !strings.HasPrefix(k, "out/dt=2026-01-01/hour=05/part-0-0-") && !strings.HasPrefix(k, "out/dt=2026-01-01/hour=06/part-0-0-") ||
			!strings.HasSuffix(k, ".jsonl") {
			t.Errorf("object %s is not out/dt=2026-01-01/hour=HH/part-0-0-...jsonl", k)
		}
	}
	if u := e.uploads(t); len(u) != 0 {
		t.Fatalf("incomplete uploads after commit: %v", u)
	}

	// A restored job commits the checkpoint's committables again, with a new committer.
	commit(t, c, cs)
	commit(t, newCommitter(t, s), cs)
	if err := c.Abort(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	wantLines(t, e.objects(t, ""), rows("a1", "a2", "b1"))

	// Nothing written: nothing to commit.
	if cs := preCommit(t, w, 2); cs != nil {
		t.Fatalf("empty pre-commit returned %d committables", len(cs))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSinkAbort: aborted uploads leave no object and no upload; committing them then is
// ErrMissing; a committable whose object was replaced is ErrMismatch.
func TestSinkAbort(t *testing.T) {
	e := newEnv(t)
	s := newSink(t, e, "", s3.NoPartitions())
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)
	write(t, w, t0, "x", "y")
	cs := preCommit(t, w, 1)
	for range 2 {
		if err := c.Abort(t.Context(), cs); err != nil {
			t.Fatal(err)
		}
	}
	if objs, u := e.objects(t, ""), e.uploads(t); len(objs) != 0 || len(u) != 0 {
		t.Fatalf("after abort: objects %v, uploads %v", objs, u)
	}
	if err := c.Commit(t.Context(), cs); !errors.Is(err, s3.ErrMissing) || !strings.Contains(err.Error(), "part-0-0-") {
		t.Fatalf("committing an aborted upload: %v; want ErrMissing naming the object", err)
	}

	// An upload S3 no longer knows, whose object exists with the recorded size: done (S3
	// forgets completed uploads after a while).
	write(t, w, t0, "z")
	cs = preCommit(t, w, 2)
	if err := c.Abort(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	var r struct{ Key string }
	if err := json.Unmarshal(cs[0], &r); err != nil {
		t.Fatal(err)
	}
	e.put(t, r.Key, []byte("z\n"))
	commit(t, c, cs)

	for _, bad := range []connector.Committable{
		connector.Committable("not json"),
		connector.Committable(`{"bucket":"other","key":"k","uploadId":"u","parts":[{"n":1,"etag":"e"}]}`),
	} {
		if err := c.Commit(t.Context(), []connector.Committable{bad}); err == nil {
			t.Errorf("committing %s succeeded", bad)
		}
	}
}

// TestSinkMultipartAndRolling writes objects of several 5 MiB parts, rolls by size, and
// recommits a completed multi-part object (the ETag check).
func TestSinkMultipartAndRolling(t *testing.T) {
	e := newEnv(t)
	s := newSink(t, e, "big", s3.NoPartitions(), s3.PartSize(s3.MinPartSize), s3.RollSize(12<<20))
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)
	row := strings.Repeat("r", 1023)
	var want []string
	for i := range 16 << 10 { // 16 MiB of rows: one object of 3 parts (12 MiB), one of 1 part
		v := fmt.Sprintf("%06d%s", i, row[6:])
		want = append(want, v)
		write(t, w, t0, v)
	}
	cs := preCommit(t, w, 1)
	if len(cs) != 2 {
		t.Fatalf("%d committables, want 2 (rolled at 12 MiB)", len(cs))
	}
	if !strings.Contains(string(cs[0]), `"n":3`) || strings.Contains(string(cs[0]), `"n":4`) {
		t.Errorf("first object's parts: %s; want 3", cs[0][:min(len(cs[0]), 400)])
	}
	commit(t, c, cs)
	commit(t, c, cs) // both unknown uploads now: found by size and multipart ETag
	objs := e.objects(t, "")
	if len(objs) != 2 {
		t.Fatalf("%d objects, want 2", len(objs))
	}
	wantLines(t, objs, rows(want...))
}

// TestSinkGzipAndRollInterval rolls by time and compresses.
func TestSinkGzipAndRollInterval(t *testing.T) {
	e := newEnv(t)
	clock := clockwork.NewFakeClock()
	s := newSink(t, e, "gz", s3.Gzip(gzip.BestSpeed), s3.RollInterval(time.Minute), s3.Clock(clock),
		s3.PartitionBy(func(v string, _ int64) string { return "letter=" + v[:1] }))
	w := newWriter(t, s, 3, 2)
	c := newCommitter(t, s)
	write(t, w, 0, "a1", "b1")
	clock.Advance(time.Minute)
	write(t, w, 0, "a2") // rolls a's first part object
	cs := preCommit(t, w, 1)
	if len(cs) != 3 {
		t.Fatalf("%d committables, want 3 (a rolled by time, then a and b at the checkpoint)", len(cs))
	}
	commit(t, c, cs)
	objs := e.objects(t, "")
	wantLines(t, objs, rows("a1", "a2", "b1"))
	for k := range objs {
		if !strings.HasPrefix(k, "gz/letter=") || !strings.Contains(k, "/part-3-2-") || !strings.HasSuffix(k, ".jsonl.gz") {
			t.Errorf("object %s", k)
		}
	}
}

// TestSinkCloseAbortsUploads: uploads a writer started but no committable names are aborted at
// Close.
func TestSinkCloseAbortsUploads(t *testing.T) {
	e := newEnv(t)
	s := newSink(t, e, "", s3.NoPartitions(), s3.PartSize(s3.MinPartSize))
	w := newWriter(t, s, 0, 0)
	big := strings.Repeat("x", 1<<20)
	for i := range 6 {
		write(t, w, t0, strconv.Itoa(i)+big) // the first part goes up
	}
	if u := e.uploads(t); len(u) != 1 {
		t.Fatalf("uploads %v, want 1 in progress", u)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if u, objs := e.uploads(t), e.objects(t, ""); len(u) != 0 || len(objs) != 0 {
		t.Fatalf("after Close: uploads %v, objects %d", u, len(objs))
	}
}

func TestSinkOptionsInvalid(t *testing.T) {
	for name, tc := range map[string]struct {
		url  string
		opts []s3.SinkOption
	}{
		"scheme":         {url: "file:///tmp"},
		"no bucket":      {url: "s3:///prefix"},
		"query":          {url: "s3://b/p?endpoint=x"},
		"small part":     {url: "s3://b/p", opts: []s3.SinkOption{s3.PartSize(1 << 20)}},
		"roll size":      {url: "s3://b/p", opts: []s3.SinkOption{s3.RollSize(0)}},
		"too many parts": {url: "s3://b/p", opts: []s3.SinkOption{s3.PartSize(s3.MinPartSize), s3.RollSize(10000 * s3.MinPartSize)}},
		"suffix":         {url: "s3://b/p", opts: []s3.SinkOption{s3.Suffix("a/b")}},
		"gzip level":     {url: "s3://b/p", opts: []s3.SinkOption{s3.Gzip(42)}},
		"endpoint":       {url: "s3://b/p", opts: []s3.SinkOption{s3.SinkConnection(s3.Connection{Endpoint: "localhost:9000"})}},
		"half creds":     {url: "s3://b/p", opts: []s3.SinkOption{s3.SinkConnection(s3.Connection{AccessKeyID: "a"})}},
		"partition type": {url: "s3://b/p", opts: []s3.SinkOption{s3.PartitionBy(func(int, int64) string { return "" })}},
	} {
		if _, err := s3.NewSink(tc.url, encodeString, tc.opts...); err == nil {
			t.Errorf("%s: NewSink succeeded", name)
		}
	}
	if got := s3.HourlyPartition(t0 + 59*60*1000); got != "dt=2026-01-01/hour=05" {
		t.Errorf("HourlyPartition = %s", got)
	}
}

// TestUnreachableEndpoint: a sink and a source on an endpoint nobody listens on fail with an
// error naming it, within a bounded time.
func TestUnreachableEndpoint(t *testing.T) {
	conn := s3.Connection{Endpoint: "http://127.0.0.1:1", Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "b",
		MaxAttempts: 2, DialTimeout: time.Second}
	start := time.Now()
	s, err := s3.NewSink("s3://bucket/p", encodeString, s3.SinkConnection(conn))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewWriter(t.Context(), connector.SinkContext{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "s3://bucket/p/") {
		t.Fatalf("NewWriter on an unreachable endpoint: %v", err)
	}
	src, err := s3.NewSource("s3://bucket/p", identity, s3.SourceConnection(conn))
	if err != nil {
		t.Fatal(err)
	}
	en, err := src.NewEnumerator(newEnumCtx(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("listing on an unreachable endpoint: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("failing took %v", d)
	}
}
