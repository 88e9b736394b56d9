package file_test

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
)

func encodeInt(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) }

// listing is what a reader of the output directory sees, plus the hidden files it skips.
type listing struct {
	rows   map[string]int // row → count, over visible files
	files  []string       // visible files, relative to the root
	hidden []string       // hidden files, relative to the root
}

func list(t *testing.T, root string) listing {
	t.Helper()
	l := listing{rows: map[string]int{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(d.Name(), ".") {
			l.hidden = append(l.hidden, rel)
			return nil
		}
		l.files = append(l.files, rel)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				return err
			}
			r = gz
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.rows[sc.Text()]++
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

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

func newSink(t *testing.T, dir string, opts ...file.Option) *file.Sink[int] {
	t.Helper()
	s, err := file.NewSink(dir, encodeInt, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWriter(t *testing.T, s *file.Sink[int], subtask, attempt int) connector.Writer[int] {
	t.Helper()
	w, err := s.NewWriter(t.Context(), connector.SinkContext{Subtask: subtask, Parallelism: 1, Attempt: attempt})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newCommitter(t *testing.T, s *file.Sink[int]) connector.Committer {
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

func preCommit(t *testing.T, w connector.Writer[int], id int64) []connector.Committable {
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
	if !maps.Equal(got.rows, want) {
		t.Fatalf("visible rows = %v, want %v (files %v)", got.rows, want, got.files)
	}
}

// TestExactlyOnceAcrossCrash drives the sink as the runtime will: pre-commit at barriers,
// commit on completion, crash, restore from the last completed checkpoint, re-commit its
// committables, abort the others, replay.
func TestExactlyOnceAcrossCrash(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := newSink(t, dir)
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)

	write(t, w, span(1, 5)...)
	if l := list(t, dir); len(l.files) != 0 || len(l.hidden) != 1 || !strings.HasSuffix(l.hidden[0], ".inprogress") {
		t.Fatalf("before pre-commit: files %v, hidden %v; want one in-progress file only", l.files, l.hidden)
	}
	cs1 := preCommit(t, w, 1)
	if len(cs1) != 1 {
		t.Fatalf("checkpoint 1: %d committables, want 1", len(cs1))
	}
	wantRows(t, list(t, dir), nil) // pending, not visible
	commit(t, c, cs1)              // checkpoint 1 complete
	wantRows(t, list(t, dir), rowsOf(span(1, 5)...))

	write(t, w, span(6, 10)...)
	cs2 := preCommit(t, w, 2) // checkpoint 2 completes, but the job crashes before the commit
	write(t, w, 11, 12)
	cs3 := preCommit(t, w, 3) // checkpoint 3 never completes
	write(t, w, 13)           // in progress at the crash
	// Crash: w is dropped without Close.
	l := list(t, dir)
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
	l = list(t, dir)
	wantRows(t, l, rowsOf(span(1, 10)...))
	if len(l.hidden) != 0 {
		t.Fatalf("after restore: hidden files %v, want none (the new writer removes attempt 0's in-progress file)", l.hidden)
	}

	// Replay the records after checkpoint 2, and finish.
	write(t, w, span(11, 13)...)
	commit(t, c, preCommit(t, w, 3))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	l = list(t, dir)
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
	wantRows(t, list(t, dir), rowsOf(span(1, 13)...))
}

func TestCommitErrors(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir)
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)
	write(t, w, 1, 2)
	cs := preCommit(t, w, 1)
	if err := c.Abort(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	err := c.Commit(t.Context(), cs)
	if !errors.Is(err, file.ErrMissing) || !strings.Contains(err.Error(), ".part-0-0-") {
		t.Fatalf("committing an aborted part: %v; want ErrMissing naming the file", err)
	}

	write(t, w, 3)
	cs = preCommit(t, w, 2)
	var pending string
	l := list(t, dir)
	pending = filepath.Join(dir, l.hidden[0])
	if err := os.WriteFile(pending, []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(t.Context(), cs); err == nil || !strings.Contains(err.Error(), "the checkpoint recorded 2") {
		t.Fatalf("committing a pending file of the wrong size: %v", err)
	}

	for _, bad := range []connector.Committable{
		connector.Committable("not json"),
		connector.Committable(`{"pending":"/etc/.part-0-0-x-0.pending","final":"/etc/passwd","size":1}`),
	} {
		if err := c.Commit(t.Context(), []connector.Committable{bad}); err == nil {
			t.Errorf("committing %s succeeded", bad)
		}
	}
}

func TestCloseAbandons(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, file.RollSize(4), file.HourlyBuckets())
	w := newWriter(t, s, 0, 0)
	write(t, w, 12345, 1, 2) // the first rolls to a pending file no PreCommit handed out
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if l := list(t, dir); len(l.files)+len(l.hidden) != 0 {
		t.Fatalf("after Close: files %v, hidden %v; want none", l.files, l.hidden)
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	// Each row is 5 bytes ("1000\n"); a file rolls once it holds 20 bytes, so after 4 rows.
	s := newSink(t, dir, file.RollSize(20))
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)
	write(t, w, span(1000, 1009)...)
	if l := list(t, dir); len(l.files) != 0 || len(l.hidden) != 3 {
		t.Fatalf("before pre-commit: files %v, hidden %v; want 2 pending and 1 in-progress hidden", l.files, l.hidden)
	}
	cs := preCommit(t, w, 1)
	if len(cs) != 3 {
		t.Fatalf("%d committables, want 3", len(cs))
	}
	commit(t, c, cs)
	l := list(t, dir)
	wantRows(t, l, rowsOf(span(1000, 1009)...))
	var sizes []int64
	for _, f := range l.files {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.Size())
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int64{10, 20, 20}) {
		t.Fatalf("file sizes %v, want [10 20 20]", sizes)
	}
	if cs := preCommit(t, w, 2); cs != nil {
		t.Fatalf("pre-commit with nothing written: %d committables, want none", len(cs))
	}
}

func TestBuckets(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, file.BucketBy(func(v int, _ int64) string {
		if v%2 == 0 {
			return "parity=even"
		}
		return "parity=odd/x"
	}))
	w := newWriter(t, s, 2, 0)
	c := newCommitter(t, s)
	write(t, w, span(1, 6)...)
	commit(t, c, preCommit(t, w, 1))
	wantRows(t, list(t, filepath.Join(dir, "parity=even")), rowsOf(2, 4, 6))
	wantRows(t, list(t, filepath.Join(dir, "parity=odd", "x")), rowsOf(1, 3, 5))

	hourly := t.TempDir()
	s = newSink(t, hourly, file.HourlyBuckets())
	w = newWriter(t, s, 0, 0)
	c = newCommitter(t, s)
	h := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC).UnixMilli()
	for i, ts := range []int64{h, h + 1, h + time.Hour.Milliseconds()} {
		if err := w.Write(t.Context(), i, ts); err != nil {
			t.Fatal(err)
		}
	}
	commit(t, c, preCommit(t, w, 1))
	wantRows(t, list(t, filepath.Join(hourly, "dt=2026-01-01", "hour=05")), rowsOf(0, 1))
	wantRows(t, list(t, filepath.Join(hourly, "dt=2026-01-01", "hour=06")), rowsOf(2))

	s = newSink(t, t.TempDir(), file.BucketBy(func(int, int64) string { return "../escape" }))
	w = newWriter(t, s, 0, 0)
	if err := w.Write(t.Context(), 1, 0); err == nil || !strings.Contains(err.Error(), `bucket "../escape"`) {
		t.Fatalf("writing to bucket ../escape: %v", err)
	}
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
	}
}

func TestGzipRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, file.Gzip(gzip.BestSpeed), file.Suffix(".txt"))
	w := newWriter(t, s, 0, 0)
	c := newCommitter(t, s)
	write(t, w, span(1, 1000)...)
	commit(t, c, preCommit(t, w, 1))
	write(t, w, span(1001, 1500)...)
	commit(t, c, preCommit(t, w, 2))
	l := list(t, dir)
	wantRows(t, l, rowsOf(span(1, 1500)...))
	for _, f := range l.files {
		if !strings.HasSuffix(f, ".txt.gz") {
			t.Errorf("file %s does not end in .txt.gz", f)
		}
	}
}

func TestUnwritableDir(t *testing.T) {
	root := t.TempDir()
	blocker := filepath.Join(root, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A regular file where a directory should be fails even for root, unlike permission bits.
	_, err := file.NewSink(filepath.Join(blocker, "out"), encodeInt)
	if err == nil || !strings.Contains(err.Error(), "file: creating output directory "+filepath.Join(blocker, "out")) {
		t.Fatalf("NewSink below a regular file: %v", err)
	}

	s := newSink(t, root, file.BucketBy(func(int, int64) string { return "blocker/b" }))
	w := newWriter(t, s, 0, 0)
	err = w.Write(t.Context(), 1, 0)
	if err == nil || !strings.Contains(err.Error(), "creating bucket directory") || !strings.Contains(err.Error(), blocker) {
		t.Fatalf("writing to a bucket below a regular file: %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	for name, opt := range map[string]file.Option{
		"roll size 0":          file.RollSize(0),
		"suffix with slash":    file.Suffix("a/b"),
		"hiding suffix":        file.Suffix(".pending"),
		"gzip level":           file.Gzip(42),
		"bucket of wrong type": file.BucketBy(func(string, int64) string { return "" }),
	} {
		if _, err := file.NewSink(t.TempDir(), encodeInt, opt); err == nil || !strings.HasPrefix(err.Error(), "file: ") {
			t.Errorf("%s: error %v, want one prefixed by file:", name, err)
		}
	}
	if _, err := file.NewSink(t.TempDir(), encodeInt, file.BucketBy(func(string, int64) string { return "" })); err == nil ||
		!strings.Contains(err.Error(), "type int") {
		t.Errorf("bucket of wrong type: %v, want it to name the record type", err)
	}
}

// TestNamesUniqueAcrossJobs checks that two writers of the same subtask and attempt (a new job
// started on the same directory) never collide.
func TestNamesUniqueAcrossJobs(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir)
	c := newCommitter(t, s)
	for range 2 {
		w := newWriter(t, s, 0, 0)
		write(t, w, 1)
		commit(t, c, preCommit(t, w, 1))
	}
	l := list(t, dir)
	if len(l.files) != 2 {
		t.Fatalf("files %v, want 2", l.files)
	}
	wantRows(t, l, map[string]int{"1": 2})
}

// TestRecover crashes writers of two subtasks (one of which will not exist after a rescale)
// and recovers from a checkpoint that recorded some of their pending files.
func TestRecover(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir, file.HourlyBuckets())
	w0, w1 := newWriter(t, s, 0, 0), newWriter(t, s, 1, 0)
	write(t, w0, 1, 2)
	write(t, w1, 3, 4)
	keep := append(preCommit(t, w0, 1), preCommit(t, w1, 1)...)
	write(t, w0, 5)
	_ = preCommit(t, w0, 2) // never completes
	write(t, w0, 6)
	write(t, w1, 7)
	// Crash; restore checkpoint 1 at parallelism 1.
	removed, err := file.Recover(t.Context(), dir, keep)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Fatalf("Recover removed %v, want 1 pending and 2 in-progress files", removed)
	}
	c := newCommitter(t, s)
	commit(t, c, keep)
	l := list(t, dir)
	wantRows(t, l, rowsOf(1, 2, 3, 4))
	if len(l.hidden) != 0 {
		t.Fatalf("hidden files %v left after Recover and commit", l.hidden)
	}
	if _, err := file.Recover(t.Context(), dir, []connector.Committable{connector.Committable("{")}); err == nil {
		t.Fatal("Recover with an undecodable committable succeeded")
	}
}

// TestCommitterRemovesOrphans: a part pre-committed at a checkpoint that never completed, by an
// attempt that then failed, is deleted once a later attempt of the same sink commits; another
// sink's (another job's) pending file in the same directory is left alone.
func TestCommitterRemovesOrphans(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir)
	other := newSink(t, dir)
	ow := newWriter(t, other, 0, 0)
	write(t, ow, 100)
	otherCs := preCommit(t, ow, 1) // the other job's checkpoint is still in flight

	w := newWriter(t, s, 0, 0)
	write(t, w, 1, 2)
	commit(t, newCommitter(t, s), preCommit(t, w, 1))
	write(t, w, 3)
	preCommit(t, w, 2) // never completes; attempt 0 fails
	if l := list(t, dir); len(l.hidden) != 2 {
		t.Fatalf("after the failure: hidden %v, want this job's orphan and the other job's pending file", l.hidden)
	}
	w = newWriter(t, s, 0, 1)
	c := newCommitter(t, s)
	write(t, w, 3)
	commit(t, c, preCommit(t, w, 2))
	l := list(t, dir)
	wantRows(t, l, rowsOf(1, 2, 3))
	if len(l.hidden) != 1 {
		t.Fatalf("after attempt 1 committed: hidden %v, want only the other job's pending file", l.hidden)
	}
	commit(t, newCommitter(t, other), otherCs)
	wantRows(t, list(t, dir), rowsOf(1, 2, 3, 100))
}
