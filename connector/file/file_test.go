package file_test

import (
	"compress/gzip"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/filesystem"
)

func encodeInt(dst []byte, v int) []byte { return append(strconv.AppendInt(dst, int64(v), 10), '\n') }

func rowsOf(vals ...int) map[string]int {
	m := map[string]int{}
	for _, v := range vals {
		m[strconv.Itoa(v)]++
	}
	return m
}

func span(from, to int) []int {
	var vs []int
	for v := from; v <= to; v++ {
		vs = append(vs, v)
	}
	return vs
}

// newSink returns a sink of ints below dir of e's file system; cfg sets the rest.
func (e *fsEnv) newSink(t *testing.T, dir string, cfg file.SinkConfig[int]) *file.Sink[int] {
	t.Helper()
	cfg.FS, cfg.Dir = e.fs, dir
	if cfg.Encode == nil {
		cfg.Encode = encodeInt
	}
	s, err := file.NewSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWriter[T any](t *testing.T, s *file.Sink[T], subtask, attempt int) connector.Writer[T] {
	t.Helper()
	w, err := s.NewWriter(t.Context(), connector.SinkContext{Subtask: subtask, Parallelism: 1, Attempt: attempt})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newCommitter[T any](t *testing.T, s *file.Sink[T]) connector.Committer {
	t.Helper()
	c, err := s.NewCommitter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, w connector.Writer[int], vals ...int) {
	t.Helper()
	for _, v := range vals {
		if err := w.Write(t.Context(), v, int64(v)); err != nil {
			t.Fatal(err)
		}
	}
}

func preCommit[T any](t *testing.T, w connector.Writer[T], id int64) []connector.Committable {
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

func wantRows(t *testing.T, got listing, want map[string]int) {
	t.Helper()
	if len(want) == 0 && len(got.rows) == 0 {
		return
	}
	if !maps.Equal(got.rows, want) {
		t.Fatalf("visible rows = %v, want %v (files %v)", got.rows, want, got.files)
	}
}

// TestExactlyOnceAcrossCrash drives the sink as the runtime will: pre-commit at barriers,
// commit on completion, crash, restore from the last completed checkpoint, re-commit its
// committables, abort the others, replay.
func TestExactlyOnceAcrossCrash(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		ctx := t.Context()
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{})
		w := newWriter(t, s, 0, 0)
		c := newCommitter(t, s)

		write(t, w, span(1, 5)...)
		if l := e.list(t, dir); len(l.files) != 0 || len(l.hidden) != 1 {
			t.Fatalf("before pre-commit: files %v, hidden %v; want one in-progress file only", l.files, l.hidden)
		}
		cs1 := preCommit(t, w, 1)
		if len(cs1) != 1 {
			t.Fatalf("checkpoint 1: %d committables, want 1", len(cs1))
		}
		wantRows(t, e.list(t, dir), nil) // pending, not visible
		commit(t, c, cs1)                // checkpoint 1 complete
		wantRows(t, e.list(t, dir), rowsOf(span(1, 5)...))

		write(t, w, span(6, 10)...)
		cs2 := preCommit(t, w, 2) // checkpoint 2 completes, but the job crashes before the commit
		write(t, w, 11, 12)
		cs3 := preCommit(t, w, 3) // checkpoint 3 never completes
		write(t, w, 13)           // in progress at the crash
		// Crash: w is dropped without Close.
		l := e.list(t, dir)
		wantRows(t, l, rowsOf(span(1, 5)...))
		if len(l.hidden) != 3 {
			t.Fatalf("after crash: hidden files %v, want 2 pending and 1 in-progress", l.hidden)
		}

		// Restore from checkpoint 2: a new writer of attempt 1, a new committer.
		w = newWriter(t, s, 0, 1)
		c = newCommitter(t, s)
		commit(t, c, cs2)
		commit(t, c, cs2) // idempotent
		commit(t, c, cs1) // long committed: still fine
		for range 2 {
			if err := c.Abort(ctx, cs3); err != nil {
				t.Fatal(err)
			}
		}
		l = e.list(t, dir)
		wantRows(t, l, rowsOf(span(1, 10)...))
		// Locally the new writer removes attempt 0's in-progress file; S3 cannot tell an
		// upload in progress from a finished one, so it stays until the committer commits a
		// part of attempt 1.
		if want := map[string]int{"local": 0, "s3": 1}[e.name]; len(l.hidden) != want {
			t.Fatalf("after restore: hidden files %v, want %d", l.hidden, want)
		}

		// Replay the records after checkpoint 2, and finish.
		write(t, w, span(11, 13)...)
		commit(t, c, preCommit(t, w, 3))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		l = e.list(t, dir)
		wantRows(t, l, rowsOf(span(1, 13)...))
		if len(l.hidden) != 0 || len(l.files) != 3 {
			t.Fatalf("at the end: files %v, hidden %v; want 3 files and nothing hidden", l.files, l.hidden)
		}
		for _, f := range l.files {
			if !strings.HasPrefix(f, "part-0-") || !strings.HasSuffix(f, ".jsonl") {
				t.Errorf("file %s is not named part-0-...jsonl", f)
			}
		}

		// Once committed, aborting does not unpublish.
		if err := c.Abort(ctx, cs2); err != nil {
			t.Fatal(err)
		}
		wantRows(t, e.list(t, dir), rowsOf(span(1, 13)...))
	})
}

func TestCommitErrors(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{})
		w := newWriter(t, s, 0, 0)
		c := newCommitter(t, s)
		write(t, w, 1, 2)
		cs := preCommit(t, w, 1)
		if err := c.Abort(t.Context(), cs); err != nil {
			t.Fatal(err)
		}
		err := c.Commit(t.Context(), cs)
		if !errors.Is(err, file.ErrMissing) || !strings.Contains(err.Error(), "part-0-0-") {
			t.Fatalf("committing an aborted part: %v; want ErrMissing naming the file", err)
		}

		for _, bad := range []connector.Committable{
			connector.Committable("not json"),
			connector.Committable(`{"pending":"/etc/.part-0-0-x-0.pending","final":"/etc/passwd","size":1}`),
			connector.Committable(`{"bucket":"other","key":"part-0-0-abcdefgh00-1.jsonl","uploadId":"u","parts":[{"n":1,"etag":"e","size":1}],"size":1}`),
		} {
			if err := c.Commit(t.Context(), []connector.Committable{bad}); err == nil {
				t.Errorf("committing %s succeeded", bad)
			}
		}
		if e.srv != nil {
			return
		}
		// Locally, a pending file can change behind the sink's back.
		write(t, w, 3)
		cs = preCommit(t, w, 2)
		l := e.list(t, dir)
		if err := os.WriteFile(filepath.Join(dir, l.hidden[0]), []byte("truncated"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.Commit(t.Context(), cs); err == nil || !strings.Contains(err.Error(), "the checkpoint recorded 2") {
			t.Fatalf("committing a pending file of the wrong size: %v", err)
		}
	})
}

func TestCloseAbandons(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{RollSize: 4, Bucket: file.Hourly[int]})
		w := newWriter(t, s, 0, 0)
		write(t, w, 12345, 1, 2) // the first rolls to a pending file no PreCommit handed out
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if l := e.list(t, dir); len(l.files)+len(l.hidden) != 0 {
			t.Fatalf("after Close: files %v, hidden %v; want none", l.files, l.hidden)
		}
	})
}

func TestRollBySize(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		// Each row is 5 bytes ("1000\n"); a file rolls once it holds 20 bytes, so after 4 rows.
		s := e.newSink(t, dir, file.SinkConfig[int]{RollSize: 20})
		w := newWriter(t, s, 0, 0)
		c := newCommitter(t, s)
		write(t, w, span(1000, 1009)...)
		if l := e.list(t, dir); len(l.files) != 0 || len(l.hidden) != 3 {
			t.Fatalf("before pre-commit: files %v, hidden %v; want 2 pending and 1 in-progress hidden", l.files, l.hidden)
		}
		cs := preCommit(t, w, 1)
		if len(cs) != 3 {
			t.Fatalf("%d committables, want 3", len(cs))
		}
		commit(t, c, cs)
		l := e.list(t, dir)
		wantRows(t, l, rowsOf(span(1000, 1009)...))
		sizes := slices.Sorted(maps.Values(l.sizes))
		if !slices.Equal(sizes, []int64{10, 20, 20}) {
			t.Fatalf("file sizes %v, want [10 20 20]", sizes)
		}
		if cs := preCommit(t, w, 2); cs != nil {
			t.Fatalf("pre-commit with nothing written: %d committables, want none", len(cs))
		}
	})
}

// TestRollIntervalAndGzip rolls by time, measured with a fake clock, and compresses.
func TestRollIntervalAndGzip(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		clock := clockwork.NewFakeClock()
		s := e.newSink(t, dir, file.SinkConfig[int]{Gzip: true, GzipLevel: gzip.BestSpeed, RollInterval: time.Minute, Clock: clock,
			Bucket: func(v int, _ int64) string { return fmt.Sprintf("odd=%v", v%2 == 1) }})
		w := newWriter(t, s, 3, 2)
		c := newCommitter(t, s)
		write(t, w, 1, 2)
		clock.Advance(time.Minute)
		write(t, w, 3) // rolls the odd bucket's first part file
		cs := preCommit(t, w, 1)
		if len(cs) != 3 {
			t.Fatalf("%d committables, want 3 (odd rolled by time, then odd and even at the checkpoint)", len(cs))
		}
		commit(t, c, cs)
		l := e.list(t, dir)
		wantRows(t, l, rowsOf(1, 2, 3))
		for _, f := range l.files {
			if !strings.HasPrefix(f, "odd=") || !strings.Contains(f, "/part-3-2-") || !strings.HasSuffix(f, ".jsonl.gz") {
				t.Errorf("file %s", f)
			}
		}
	})
}

func TestBuckets(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{Bucket: func(v int, _ int64) string {
			if v%2 == 0 {
				return "parity=even"
			}
			return "parity=odd/x"
		}})
		w := newWriter(t, s, 2, 0)
		c := newCommitter(t, s)
		write(t, w, span(1, 6)...)
		commit(t, c, preCommit(t, w, 1))
		wantRows(t, e.list(t, e.path(dir, "parity=even")), rowsOf(2, 4, 6))
		wantRows(t, e.list(t, e.path(dir, "parity=odd/x")), rowsOf(1, 3, 5))

		hourly := e.dir(t)
		s = e.newSink(t, hourly, file.SinkConfig[int]{Bucket: file.Hourly[int]})
		w = newWriter(t, s, 0, 0)
		c = newCommitter(t, s)
		h := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC).UnixMilli()
		for i, ts := range []int64{h, h + 1, h + time.Hour.Milliseconds()} {
			if err := w.Write(t.Context(), i, ts); err != nil {
				t.Fatal(err)
			}
		}
		commit(t, c, preCommit(t, w, 1))
		wantRows(t, e.list(t, e.path(hourly, "dt=2026-01-01/hour=05")), rowsOf(0, 1))
		wantRows(t, e.list(t, e.path(hourly, "dt=2026-01-01/hour=06")), rowsOf(2))

		for _, bad := range []string{"../escape", "/abs", "a//b", "a/./b", `a\b`} {
			s = e.newSink(t, e.dir(t), file.SinkConfig[int]{Bucket: func(int, int64) string { return bad }})
			w = newWriter(t, s, 0, 0)
			if err := w.Write(t.Context(), 1, 0); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("bucket %q", bad)) {
				t.Fatalf("writing to bucket %s: %v", bad, err)
			}
		}
	})
}

func TestHourlyBucket(t *testing.T) {
	for _, tc := range []struct {
		ts   time.Time
		want string
	}{
		{time.Date(2026, 1, 1, 5, 59, 59, 0, time.UTC), "dt=2026-01-01/hour=05"},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "dt=2026-12-31/hour=23"},
		{time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "dt=2026-01-01/hour=00"},
		{time.UnixMilli(0), "dt=1970-01-01/hour=00"},
	} {
		if got := file.HourlyBucket(tc.ts.UnixMilli()); got != tc.want {
			t.Errorf("HourlyBucket(%v) = %s, want %s", tc.ts, got, tc.want)
		}
		if got := file.Hourly(struct{}{}, tc.ts.UnixMilli()); got != tc.want {
			t.Errorf("Hourly(%v) = %s, want %s", tc.ts, got, tc.want)
		}
	}
}

func TestGzipRoundTrip(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{Gzip: true, GzipLevel: gzip.BestSpeed, Suffix: ".txt"})
		w := newWriter(t, s, 0, 0)
		c := newCommitter(t, s)
		write(t, w, span(1, 1000)...)
		commit(t, c, preCommit(t, w, 1))
		write(t, w, span(1001, 1500)...)
		commit(t, c, preCommit(t, w, 2))
		l := e.list(t, dir)
		wantRows(t, l, rowsOf(span(1, 1500)...))
		for _, f := range l.files {
			if !strings.HasSuffix(f, ".txt.gz") {
				t.Errorf("file %s does not end in .txt.gz", f)
			}
		}
	})
}

// TestUnwritableDir: a regular file where a directory should be fails the writer, naming it
// (locally: S3 has no directories).
func TestUnwritableDir(t *testing.T) {
	e := &fsEnv{name: "local", fs: filesystem.Local{}}
	root := t.TempDir()
	blocker := filepath.Join(root, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.newSink(t, filepath.Join(blocker, "out"), file.SinkConfig[int]{})
	w, err := s.NewWriter(t.Context(), connector.SinkContext{})
	if err == nil {
		err = w.Write(t.Context(), 1, 0)
	}
	if err == nil || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("a sink below a regular file: %v", err)
	}

	s = e.newSink(t, root, file.SinkConfig[int]{Bucket: func(int, int64) string { return "blocker/b" }})
	w = newWriter(t, s, 0, 0)
	err = w.Write(t.Context(), 1, 0)
	if err == nil || !strings.Contains(err.Error(), "creating directory") || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("writing to a bucket below a regular file: %v", err)
	}
}

func TestSinkConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]file.SinkConfig[int]{
		"no dir":            {Encode: encodeInt},
		"no encode":         {Dir: dir},
		"negative roll":     {Dir: dir, Encode: encodeInt, RollSize: -1},
		"negative interval": {Dir: dir, Encode: encodeInt, RollInterval: -time.Second},
		"suffix with slash": {Dir: dir, Encode: encodeInt, Suffix: "a/b"},
		"hiding suffix":     {Dir: dir, Encode: encodeInt, Suffix: ".pending"},
		"gzip level":        {Dir: dir, Encode: encodeInt, Gzip: true, GzipLevel: 42},
	} {
		if _, err := file.NewSink(cfg); err == nil || !strings.HasPrefix(err.Error(), "file: ") {
			t.Errorf("%s: error %v, want one prefixed by file:", name, err)
		}
	}
	if err := (file.SinkConfig[int]{Dir: dir}).Validate(); err != nil {
		t.Errorf("Validate of a usable config: %v", err)
	}
}

// TestNamesUniqueAcrossJobs checks that two writers of the same subtask and attempt (a new job
// started on the same directory) never collide.
func TestNamesUniqueAcrossJobs(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{})
		c := newCommitter(t, s)
		for range 2 {
			w := newWriter(t, s, 0, 0)
			write(t, w, 1)
			commit(t, c, preCommit(t, w, 1))
		}
		l := e.list(t, dir)
		if len(l.files) != 2 {
			t.Fatalf("files %v, want 2", l.files)
		}
		wantRows(t, l, map[string]int{"1": 2})
	})
}

// TestRecover crashes writers of two subtasks (one of which will not exist after a rescale)
// and recovers from a checkpoint that recorded some of their pending files.
func TestRecover(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{Bucket: file.Hourly[int]})
		w0, w1 := newWriter(t, s, 0, 0), newWriter(t, s, 1, 0)
		write(t, w0, 1, 2)
		write(t, w1, 3, 4)
		keep := append(preCommit(t, w0, 1), preCommit(t, w1, 1)...)
		write(t, w0, 5)
		_ = preCommit(t, w0, 2) // never completes
		write(t, w0, 6)
		write(t, w1, 7)
		// Somebody else's uncommitted file is not a part file: left alone.
		other, err := e.fs.Create(t.Context(), e.path(dir, "other.txt"))
		if err != nil {
			t.Fatal(err)
		}
		// Crash; restore checkpoint 1 at parallelism 1.
		removed, err := file.Recover(t.Context(), e.fs, dir, keep)
		if err != nil {
			t.Fatal(err)
		}
		if len(removed) != 3 {
			t.Fatalf("Recover removed %v, want 1 pending and 2 in-progress files", removed)
		}
		c := newCommitter(t, s)
		commit(t, c, keep)
		l := e.list(t, dir)
		wantRows(t, l, rowsOf(1, 2, 3, 4))
		if len(l.hidden) != 1 || !strings.Contains(l.hidden[0], "other.txt") {
			t.Fatalf("hidden files %v left after Recover and commit, want only other.txt", l.hidden)
		}
		_ = other.Abort()
		if _, err := file.Recover(t.Context(), e.fs, dir, []connector.Committable{connector.Committable("{")}); err == nil {
			t.Fatal("Recover with an undecodable committable succeeded")
		}
	})
}

// TestCommitterRemovesOrphans: a part pre-committed at a checkpoint that never completed, by an
// attempt that then failed, is deleted once a later attempt of the same sink commits; another
// sink's (another job's) pending file in the same directory is left alone.
func TestCommitterRemovesOrphans(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		s := e.newSink(t, dir, file.SinkConfig[int]{})
		other := e.newSink(t, dir, file.SinkConfig[int]{})
		ow := newWriter(t, other, 0, 0)
		write(t, ow, 100)
		otherCs := preCommit(t, ow, 1) // the other job's checkpoint is still in flight

		w := newWriter(t, s, 0, 0)
		write(t, w, 1, 2)
		commit(t, newCommitter(t, s), preCommit(t, w, 1))
		write(t, w, 3)
		preCommit(t, w, 2) // never completes; attempt 0 fails
		if l := e.list(t, dir); len(l.hidden) != 2 {
			t.Fatalf("after the failure: hidden %v, want this job's orphan and the other job's pending file", l.hidden)
		}
		w = newWriter(t, s, 0, 1)
		c := newCommitter(t, s)
		write(t, w, 3)
		commit(t, c, preCommit(t, w, 2))
		l := e.list(t, dir)
		wantRows(t, l, rowsOf(1, 2, 3))
		if len(l.hidden) != 1 {
			t.Fatalf("after attempt 1 committed: hidden %v, want only the other job's pending file", l.hidden)
		}
		commit(t, newCommitter(t, other), otherCs)
		wantRows(t, e.list(t, dir), rowsOf(1, 2, 3, 100))
	})
}
