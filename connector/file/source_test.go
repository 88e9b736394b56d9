package file_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/csv"
	"github.com/runnel-io/runnel/format/parquet"
)

// rec is the record type of the source tests.
type rec struct {
	File int    `json:"file" csv:"file" parquet:"file"`
	N    int64  `json:"n" csv:"n" parquet:"n"`
	Text string `json:"text" csv:"text" parquet:"text"`
}

// kind is one way of writing the test files.
type kind struct {
	name string
	ext  string
	fmt  file.Format[rec]
}

var kinds = []kind{
	{"json", ".jsonl", file.JSONLines[rec]()},
	{"json-gzip", ".jsonl.gz", file.JSONLines[rec]()},
	{"json-zstd", ".jsonl.zst", file.JSONLines[rec]()},
	{"csv-header", ".csv", file.CSV[rec](csv.Options{}, true)},
	{"csv-gzip", ".csv.gz", file.CSV[rec](csv.Options{}, false)},
	{"csv-header-zstd", ".csv.zst", file.CSV[rec](csv.Options{}, true)},
	{"parquet", ".parquet", file.Parquet[rec]()},
	{"avro", ".avro", file.Avro[rec]()},
}

// text gives records varied sizes, CSV quoting with line breaks, and JSON escapes.
func text(i int64) string {
	switch i % 5 {
	case 0:
		return ""
	case 1:
		return "plain"
	case 2:
		return "with, comma and \"quotes\"\nand a line break"
	case 3:
		return strings.Repeat("x", int(i%97))
	}
	return "ünïcödé"
}

// writeFiles writes files records into dir, file f holding per*(f+1)/2 records, and returns the
// records by absolute path.
func writeFiles(t testing.TB, dir string, k kind, files, per int) map[string][]rec {
	t.Helper()
	want := map[string][]rec{}
	for f := range files {
		var recs []rec
		for i := range per * (f + 1) / 2 {
			recs = append(recs, rec{File: f, N: int64(i), Text: text(int64(i))})
		}
		path := filepath.Join(dir, fmt.Sprintf("sub%d", f%2), fmt.Sprintf("f%03d%s", f, k.ext))
		writeFile(t, path, k, recs)
		abs, _ := filepath.Abs(path)
		want[abs] = recs
	}
	return want
}

func writeFile(t testing.TB, path string, k kind, recs []rec) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	switch {
	case strings.HasPrefix(k.name, "json"):
		for _, r := range recs {
			fmt.Fprintf(&raw, `{"file":%d,"n":%d,"text":%q}`+"\n", r.File, r.N, r.Text)
			if r.N%10 == 9 {
				raw.WriteString("\n") // empty lines are skipped
			}
		}
	case strings.HasPrefix(k.name, "csv"):
		enc, err := csv.NewEncoder[rec](csv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(k.name, "csv-header") {
			raw.Write(enc.AppendHeader(nil))
		}
		for _, r := range recs {
			b, err := enc.Append(raw.AvailableBuffer(), r)
			if err != nil {
				t.Fatal(err)
			}
			raw.Write(b)
		}
	case k.name == "avro":
		w, err := avro.NewFileWriter[rec](&raw, avro.FileOptions{Codec: "snappy", BlockLength: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := w.WriteOne(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case k.name == "parquet":
		w, err := parquet.NewWriter[rec](&raw, parquet.WriterOptions{RowGroupRows: 50})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(recs); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data := raw.Bytes()
	switch {
	case strings.HasSuffix(path, ".gz"):
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(data)
		_ = zw.Close()
		data = z.Bytes()
	case strings.HasSuffix(path, ".zst"):
		zw, _ := zstd.NewWriter(nil)
		data = zw.EncodeAll(data, nil)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// enumCtx is a connector.EnumeratorContext recording assignments.
type enumCtx struct {
	p        int
	assigned map[int][]connector.Split
	noMore   map[int]bool
}

func newEnumCtx(p int) *enumCtx {
	return &enumCtx{p: p, assigned: map[int][]connector.Split{}, noMore: map[int]bool{}}
}
func (c *enumCtx) Parallelism() int { return c.p }
func (c *enumCtx) Assign(subtask int, splits ...connector.Split) {
	c.assigned[subtask] = append(c.assigned[subtask], splits...)
}
func (c *enumCtx) NoMoreSplits(subtask int) { c.noMore[subtask] = true }
func (c *enumCtx) Logger() *slog.Logger     { return slog.New(slog.DiscardHandler) }

// take hands the splits assigned so far to the readers.
func (c *enumCtx) take(rs []connector.Reader[rec]) {
	for i, r := range rs {
		if sps := c.assigned[i]; len(sps) > 0 {
			r.AddSplits(sps)
			delete(c.assigned, i)
		}
		if c.noMore[i] {
			r.NoMoreSplits()
		}
	}
}

// output collects records by split, and checks that released splits get nothing more.
type output struct {
	t        testing.TB
	got      map[string][]rec
	released map[string]bool
}

func newOutput(t testing.TB) *output {
	return &output{t: t, got: map[string][]rec{}, released: map[string]bool{}}
}

func (o *output) Split(id string) connector.SplitOutput[rec] {
	if o.released[id] {
		o.t.Fatalf("split %s used after its release", id)
	}
	return splitOut{o, id}
}
func (o *output) ReleaseSplit(id string) { o.released[id] = true }
func (o *output) total() int {
	n := 0
	for _, v := range o.got {
		n += len(v)
	}
	return n
}

type splitOut struct {
	o  *output
	id string
}

func (s splitOut) Collect(v rec, _ int64) { s.o.got[s.id] = append(s.o.got[s.id], v) }

// pump reads the readers round robin until every one ended, or stop says so.
func pump(t testing.TB, rs []connector.Reader[rec], out *output, stop func() bool) {
	t.Helper()
	ended := make([]bool, len(rs))
	for round := 0; ; round++ {
		if round > 1_000_000 {
			t.Fatal("readers never ended")
		}
		open := false
		for i, r := range rs {
			if ended[i] {
				continue
			}
			st, err := r.Read(t.Context(), out)
			if err != nil {
				t.Fatal(err)
			}
			if st == connector.EndOfInput {
				ended[i] = true
			} else {
				open = true
			}
			if stop != nil && stop() {
				return
			}
		}
		if !open {
			return
		}
	}
}

// codec sends splits through the source's split codec.
func codec(t testing.TB, src *file.Source[rec], splits []connector.Split) []connector.Split {
	t.Helper()
	var out []connector.Split
	for _, sp := range splits {
		b, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		d, err := src.DecodeSplit(b)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := sp.(*file.Split); ok && *d.(*file.Split) != *f {
			t.Fatalf("split %+v decoded as %+v", f, d)
		}
		out = append(out, d)
	}
	return out
}

// start makes an enumerator and p readers, restored from a snapshot when enumSplits is not
// nil, and hands the readers their splits.
func start(t testing.TB, src *file.Source[rec], p int, enumSplits []connector.Split, readerSplits []connector.Split) (connector.Enumerator, *enumCtx, []connector.Reader[rec]) {
	t.Helper()
	ec := newEnumCtx(p)
	e, err := src.NewEnumerator(ec, enumSplits)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	rs := make([]connector.Reader[rec], p)
	for i := range p {
		if rs[i], err = src.NewReader(connector.ReaderContext{Subtask: i, Parallelism: p}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rs[i].Close() })
	}
	// The runtime hands restored reader splits back to the readers, spread over the new
	// parallelism, before the enumerator adds them.
	for i, sp := range readerSplits {
		rs[i%p].AddSplits([]connector.Split{sp})
	}
	for i := range p {
		if err := e.AddReader(t.Context(), i); err != nil {
			t.Fatal(err)
		}
	}
	ec.take(rs)
	return e, ec, rs
}

func checkExact(t testing.TB, got, want map[string][]rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d files, want %d", len(got), len(want))
	}
	for path, w := range want {
		g := got[path]
		if !slices.Equal(g, w) {
			i := 0
			for i < min(len(g), len(w)) && g[i] == w[i] {
				i++
			}
			t.Fatalf("%s: read %d records, want %d; first difference at record %d", path, len(g), len(w), i)
		}
	}
}

func TestSourceReadsAllFilesExactly(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			dir := t.TempDir()
			want := writeFiles(t, dir, k, 7, 300)
			// Leftovers of a file sink and hidden directories are not read.
			for _, hidden := range []string{".part-0-0-x-0.inprogress", "_SUCCESS", ".hidden/f" + k.ext} {
				p := filepath.Join(dir, hidden)
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("garbage\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src, err := file.NewSource(dir, k.fmt, file.ReadBatch(13))
			if err != nil {
				t.Fatal(err)
			}
			if src.Boundedness() != connector.Bounded {
				t.Fatal("source without Monitor is not bounded")
			}
			_, _, rs := start(t, src, 3, nil, nil)
			out := newOutput(t)
			pump(t, rs, out, nil)
			checkExact(t, out.got, want)
			if len(out.released) != len(want) {
				t.Fatalf("%d splits released, want %d", len(out.released), len(want))
			}
		})
	}
}

func TestSourceGlob(t *testing.T) {
	dir := t.TempDir()
	all := writeFiles(t, dir, kinds[0], 4, 10)
	src, err := file.NewSource(filepath.Join(dir, "sub1", "*.jsonl"), file.JSONLines[rec]())
	if err != nil {
		t.Fatal(err)
	}
	_, _, rs := start(t, src, 1, nil, nil)
	out := newOutput(t)
	pump(t, rs, out, nil)
	want := maps.Clone(all)
	maps.DeleteFunc(want, func(p string, _ []rec) bool { return !strings.Contains(p, "sub1") })
	checkExact(t, out.got, want)
}

// TestSourceSnapshotRestore stops the readers part way, at several points, snapshots the
// enumerator and the readers, sends the splits through the codec and restores them into a new
// set of readers of another parallelism: per file, what the first run read followed by what the
// restored run read must be exactly the file.
func TestSourceSnapshotRestore(t *testing.T) {
	for _, k := range kinds {
		for _, ps := range [][2]int{{2, 3}, {3, 1}, {1, 1}} {
			for _, frac := range []float64{0, 0.05, 0.4, 0.93} {
				t.Run(fmt.Sprintf("%s/p=%d->%d/at=%v", k.name, ps[0], ps[1], frac), func(t *testing.T) {
					dir := t.TempDir()
					want := writeFiles(t, dir, k, 6, 200)
					n := 0
					for _, w := range want {
						n += len(w)
					}
					src, err := file.NewSource(dir, k.fmt, file.ReadBatch(11))
					if err != nil {
						t.Fatal(err)
					}
					e, _, rs := start(t, src, ps[0], nil, nil)
					out := newOutput(t)
					stopAt := int(frac * float64(n))
					if stopAt > 0 {
						pump(t, rs, out, func() bool { return out.total() >= stopAt })
					}
					enumSplits, err := e.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					var readerSplits []connector.Split
					for _, r := range rs {
						sps, err := r.Snapshot(1)
						if err != nil {
							t.Fatal(err)
						}
						readerSplits = append(readerSplits, sps...)
						_ = r.Close()
					}
					if stopAt > 0 && !slices.ContainsFunc(readerSplits, func(sp connector.Split) bool {
						return sp.(*file.Split).Records > 0
					}) {
						t.Fatalf("no reader stopped inside a file: %+v", readerSplits)
					}
					// Work done after the snapshot is lost with the failure.
					_, _, rs2 := start(t, src, ps[1], codec(t, src, enumSplits), codec(t, src, readerSplits))
					pump(t, rs2, out, nil)
					checkExact(t, out.got, want)
				})
			}
		}
	}
}

func TestSourceMonitorPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	k := kinds[0]
	want := writeFiles(t, dir, k, 2, 10)
	src, err := file.NewSource(dir, k.fmt, file.Monitor(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if src.Boundedness() != connector.Unbounded {
		t.Fatal("source with Monitor is bounded")
	}
	e, ec, rs := start(t, src, 2, nil, nil)
	d, ok := e.(connector.Discoverer)
	if !ok || d.DiscoveryInterval() != 1 {
		t.Fatalf("enumerator %T is not a Discoverer with a 1 s interval", e)
	}
	out := newOutput(t)
	drain := func() {
		for range 100 {
			for _, r := range rs {
				st, err := r.Read(t.Context(), out)
				if err != nil {
					t.Fatal(err)
				}
				if st == connector.EndOfInput {
					t.Fatal("a monitoring reader ended")
				}
			}
		}
	}
	drain()
	checkExact(t, out.got, want)

	// A file written hidden and renamed into place is read once.
	recs := []rec{{File: 9, N: 1, Text: "new"}, {File: 9, N: 2, Text: "newer"}}
	hiddenPath := filepath.Join(dir, "sub0", ".new.jsonl")
	writeFile(t, hiddenPath, k, recs)
	if err := d.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(ec.assigned) != 0 {
		t.Fatalf("a hidden file was assigned: %v", ec.assigned)
	}
	newPath := filepath.Join(dir, "sub0", "new.jsonl")
	if err := os.Rename(hiddenPath, newPath); err != nil {
		t.Fatal(err)
	}
	if err := d.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	ec.take(rs)
	drain()
	want[newPath] = recs
	checkExact(t, out.got, want)
	if err := d.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(ec.assigned) != 0 {
		t.Fatalf("a file was assigned twice: %v", ec.assigned)
	}

	// A restored enumerator remembers the files already read: a third file is the only new one.
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	third := filepath.Join(dir, "third.jsonl")
	writeFile(t, third, k, []rec{{File: 3, N: 3}})
	e2, ec2, rs2 := start(t, src, 3, codec(t, src, snap), nil)
	if len(ec2.assigned) != 0 {
		t.Fatalf("restored enumerator assigned %v before discovering", ec2.assigned)
	}
	if err := e2.(connector.Discoverer).Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sps := range ec2.assigned {
		for _, sp := range sps {
			got = append(got, sp.SplitID())
		}
	}
	if !slices.Equal(got, []string{third}) {
		t.Fatalf("restored enumerator assigned %v, want only %s", got, third)
	}
	_ = rs2
}

func TestSourceMalformed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.jsonl")
	lines := `{"file":1,"n":1,"text":"a"}` + "\n" + `{"file":1,"n":2,"text":"b"}` + "\n" + `{"file":1,"n":` + "\n" +
		`{"file":1,"n":"four"}` + "\n" + `{"file":1,"n":5,"text":"e"}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	badOffset := int64(len(`{"file":1,"n":1,"text":"a"}`+"\n") * 2)

	t.Run("fail", func(t *testing.T) {
		src, err := file.NewSource(dir, file.JSONLines[rec]())
		if err != nil {
			t.Fatal(err)
		}
		_, _, rs := start(t, src, 1, nil, nil)
		_, err = rs[0].Read(t.Context(), newOutput(t))
		var rerr *format.RecordError
		if !errors.As(err, &rerr) {
			t.Fatalf("Read: %v, want a *format.RecordError", err)
		}
		msg := err.Error()
		for _, want := range []string{abs, "line 3", fmt.Sprintf("offset %d", badOffset), "json"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
		if rerr.Source != abs || rerr.Line != 3 || rerr.Offset != badOffset || string(rerr.Raw) != `{"file":1,"n":` {
			t.Errorf("RecordError %+v", rerr)
		}
	})
	t.Run("dead-letter", func(t *testing.T) {
		var dead []*format.RecordError
		src, err := file.NewSource(dir, file.JSONLines[rec](), file.DeadLetter(func(e *format.RecordError) error {
			dead = append(dead, e)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, _, rs := start(t, src, 1, nil, nil)
		out := newOutput(t)
		pump(t, rs, out, nil)
		if got := out.got[abs]; len(got) != 3 || got[2].N != 5 {
			t.Fatalf("read %+v, want records 1, 2 and 5", got)
		}
		if len(dead) != 2 || dead[0].Line != 3 || dead[1].Line != 4 || dead[1].Field == "" {
			t.Fatalf("dead letters %+v", dead)
		}
	})
	t.Run("dead-letter-error", func(t *testing.T) {
		stop := errors.New("too many")
		src, err := file.NewSource(dir, file.JSONLines[rec](), file.DeadLetter(func(*format.RecordError) error { return stop }))
		if err != nil {
			t.Fatal(err)
		}
		_, _, rs := start(t, src, 1, nil, nil)
		if _, err := rs[0].Read(t.Context(), newOutput(t)); !errors.Is(err, stop) {
			t.Fatalf("Read: %v, want the dead-letter output's error", err)
		}
	})
}

// TestSourceSkipsBlankLines checks that JSON lines of white space are skipped like empty lines
// but still counted, so the position of a later malformed line is right, while a line of other
// space (U+00A0) and a CSV record of spaces are malformed records, not skipped.
func TestSourceSkipsBlankLines(t *testing.T) {
	dir := t.TempDir()
	line := func(n int) string { return fmt.Sprintf(`{"file":1,"n":%d,"text":"x"}`, n) + "\n" }
	content := line(1) + "   \n" + "\t \r\n" + line(2) + "\n" + " \n" + line(3) + "\u00a0\n" + line(4)
	if err := os.WriteFile(filepath.Join(dir, "blank.jsonl"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "blank.jsonl"))
	var dead []*format.RecordError
	src, err := file.NewSource(dir, file.JSONLines[rec](), file.DeadLetter(func(e *format.RecordError) error {
		dead = append(dead, e)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, _, rs := start(t, src, 1, nil, nil)
	out := newOutput(t)
	pump(t, rs, out, nil)
	if got := out.got[abs]; len(got) != 4 || got[0].N != 1 || got[3].N != 4 {
		t.Fatalf("read %+v, want records 1 to 4", got)
	}
	if len(dead) != 1 || dead[0].Line != 8 || string(dead[0].Raw) != "\u00a0" {
		t.Fatalf("dead letters %+v, want only the no-break space at line 8", dead)
	}

	csvDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(csvDir, "blank.csv"), []byte("1,1,x\n\n  \n1,2,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead = nil
	src, err = file.NewSource(csvDir, file.CSV[rec](csv.Options{}, false), file.DeadLetter(func(e *format.RecordError) error {
		dead = append(dead, e)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, _, rs = start(t, src, 1, nil, nil)
	out = newOutput(t)
	pump(t, rs, out, nil)
	if out.total() != 2 || len(dead) != 1 || dead[0].Line != 3 {
		t.Fatalf("CSV: read %+v, dead letters %+v; want 2 records and the record of spaces (line 3) as malformed", out.got, dead)
	}
}

func TestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	for name, f := range map[string]func() error{
		"zero format": func() error { _, err := file.NewSource(dir, file.Format[rec]{}); return err },
		"empty path":  func() error { _, err := file.NewSource("", file.JSONLines[rec]()); return err },
		"bad batch":   func() error { _, err := file.NewSource(dir, file.JSONLines[rec](), file.ReadBatch(0)); return err },
		"bad monitor": func() error { _, err := file.NewSource(dir, file.JSONLines[rec](), file.Monitor(-1)); return err },
		"missing":     func() error { _, err := file.NewSource(filepath.Join(dir, "nope"), file.JSONLines[rec]()); return err },
		"bad pattern": func() error { _, err := file.NewSource(dir+"/[", file.JSONLines[rec]()); return err },
		"parquet int": func() error { _, err := file.NewSource(dir, file.Parquet[int]()); return err },
		"csv chan": func() error {
			_, err := file.NewSource(dir, file.CSV[struct{ C chan int }](csv.Options{}, false))
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	src, err := file.NewSource(dir, file.JSONLines[rec]())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{nil, {1}, {2, 'f'}, {1, 'x'}, {1, 'f', 3, 'a', 'b'}, {1, 'f', 1, 'a', 0, 0}, {1, 'f', 2, '/', 'a', 0, 0, 9}, {1, 's', 200}} {
		if _, err := src.DecodeSplit(b); !errors.Is(err, file.ErrBadSplit) {
			t.Errorf("DecodeSplit(%v): %v, want ErrBadSplit", b, err)
		}
	}
	if _, err := src.EncodeSplit(fakeSplit{}); err == nil {
		t.Error("EncodeSplit of a foreign split: no error")
	}
	// Restored file splits without the record of files seen are refused.
	if _, err := src.NewEnumerator(newEnumCtx(1), []connector.Split{&file.Split{Path: "/x"}}); err == nil {
		t.Error("restore without the seen record: no error")
	}
	// A file that disappeared fails the read, naming it.
	_, _, rs := start(t, src, 1, nil, []connector.Split{&file.Split{Path: filepath.Join(dir, "gone.jsonl"), Offset: 10, Records: 1}})
	if _, err := rs[0].Read(t.Context(), newOutput(t)); err == nil || !strings.Contains(err.Error(), "gone.jsonl") {
		t.Errorf("reading a removed file: %v", err)
	}
	// A compressed file shorter than its position.
	gz := filepath.Join(dir, "short.jsonl.gz")
	writeFile(t, gz, kinds[1], []rec{{N: 1}})
	_, _, rs = start(t, src, 1, []connector.Split{}, []connector.Split{&file.Split{Path: gz, Offset: 100, Records: 5}})
	if _, err := rs[0].Read(t.Context(), newOutput(t)); err == nil || !strings.Contains(err.Error(), "short.jsonl.gz") {
		t.Errorf("reading past the end of a compressed file: %v", err)
	}
	// A too-long line.
	long := t.TempDir()
	if err := os.WriteFile(filepath.Join(long, "l.jsonl"), append(bytes.Repeat([]byte("x"), 5000), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err = file.NewSource(long, file.JSONLines[rec](), file.MaxRecordSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	_, _, rs = start(t, src, 1, nil, nil)
	if _, err := rs[0].Read(t.Context(), newOutput(t)); err == nil || !strings.Contains(err.Error(), "maximum record size") {
		t.Errorf("reading a too-long line: %v", err)
	}
}

type fakeSplit struct{}

func (fakeSplit) SplitID() string { return "fake" }

// FuzzDecodeSplit checks that DecodeSplit never panics and that what it accepts encodes back to
// the same bytes.
func FuzzDecodeSplit(f *testing.F) {
	src, err := file.NewSource(f.TempDir(), file.JSONLines[rec]())
	if err != nil {
		f.Fatal(err)
	}
	for _, sp := range []connector.Split{&file.Split{Path: "/a/b.jsonl", Offset: 1234, Records: 56}, &file.Split{Path: "/x"}} {
		b, _ := src.EncodeSplit(sp)
		f.Add(b)
	}
	e, err := src.NewEnumerator(newEnumCtx(1), []connector.Split{})
	if err != nil {
		f.Fatal(err)
	}
	snap, _ := e.Snapshot()
	b, _ := src.EncodeSplit(snap[0])
	f.Add(b)
	f.Add([]byte{1, 's', 2, 2, '/', 'a', 2, '/', 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := src.DecodeSplit(b)
		if err != nil {
			if !errors.Is(err, file.ErrBadSplit) {
				t.Fatalf("error %v does not wrap ErrBadSplit", err)
			}
			return
		}
		again, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x as %+v, which encodes as %x", b, sp, again)
		}
	})
}
