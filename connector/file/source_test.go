package file_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/filesystem"
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
// records by name.
func (e *fsEnv) writeFiles(t testing.TB, dir string, k kind, files, per int) map[string][]rec {
	t.Helper()
	want := map[string][]rec{}
	for f := range files {
		var recs []rec
		for i := range per * (f + 1) / 2 {
			recs = append(recs, rec{File: f, N: int64(i), Text: text(int64(i))})
		}
		name := e.path(dir, fmt.Sprintf("sub%d/f%03d%s", f%2, f, k.ext))
		e.writeFile(t, name, k, recs)
		want[name] = recs
	}
	return want
}

func (e *fsEnv) writeFile(t testing.TB, path string, k kind, recs []rec) {
	t.Helper()
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
	e.put(t, path, data)
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

// newSource returns a source of e's file system; cfg sets the rest.
func (e *fsEnv) newSource(t testing.TB, path string, f file.Format[rec], cfg file.SourceConfig[rec]) *file.Source[rec] {
	t.Helper()
	cfg.FS, cfg.Path, cfg.Format = e.fs, path, f
	src, err := file.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSourceReadsAllFilesExactly(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		for _, k := range kinds {
			t.Run(k.name, func(t *testing.T) {
				dir := e.dir(t)
				want := e.writeFiles(t, dir, k, 7, 300)
				// Leftovers of a file sink and hidden directories are not read.
				for _, hidden := range []string{".part-0-0-x-0.inprogress", "_SUCCESS", ".hidden/f" + k.ext, "sub0/_tmp/g" + k.ext} {
					e.put(t, e.path(dir, hidden), []byte("garbage\n"))
				}
				src := e.newSource(t, dir, k.fmt, file.SourceConfig[rec]{ReadBatch: 13})
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
	})
}

func TestSourceGlobAndFilter(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		all := e.writeFiles(t, dir, kinds[0], 4, 10)
		read := func(path string, filter func(string) bool) map[string][]rec {
			src := e.newSource(t, path, file.JSONLines[rec](), file.SourceConfig[rec]{Filter: filter})
			_, _, rs := start(t, src, 1, nil, nil)
			out := newOutput(t)
			pump(t, rs, out, nil)
			return out.got
		}
		want := maps.Clone(all)
		maps.DeleteFunc(want, func(p string, _ []rec) bool { return !strings.Contains(p, "sub1") })
		checkExact(t, read(e.path(dir, "sub1/*.jsonl"), nil), want)
		checkExact(t, read(e.path(dir, "*/f00[13].jsonl"), nil), want)
		checkExact(t, read(dir, func(name string) bool { return strings.Contains(name, "/sub1/") }), want)
		one := e.path(dir, "sub0/f002.jsonl")
		checkExact(t, read(one, nil), map[string][]rec{one: all[one]})
	})
}

// TestSourceSnapshotRestore stops the readers part way, at several points, snapshots the
// enumerator and the readers, sends the splits through the codec and restores them into a new
// set of readers of another parallelism: per file, what the first run read followed by what the
// restored run read must be exactly the file.
func TestSourceSnapshotRestore(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		for _, k := range kinds {
			for _, ps := range [][2]int{{2, 3}, {3, 1}, {1, 1}} {
				for _, frac := range []float64{0, 0.05, 0.4, 0.93} {
					t.Run(fmt.Sprintf("%s/p=%d->%d/at=%v", k.name, ps[0], ps[1], frac), func(t *testing.T) {
						dir := e.dir(t)
						want := e.writeFiles(t, dir, k, 6, 200)
						n := 0
						for _, w := range want {
							n += len(w)
						}
						src := e.newSource(t, dir, k.fmt, file.SourceConfig[rec]{ReadBatch: 11})
						en, _, rs := start(t, src, ps[0], nil, nil)
						out := newOutput(t)
						stopAt := int(frac * float64(n))
						if stopAt > 0 {
							pump(t, rs, out, func() bool { return out.total() >= stopAt })
						}
						enumSplits, err := en.Snapshot()
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
	})
}

func TestSourceMonitorPicksUpNewFiles(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		k := kinds[0]
		want := e.writeFiles(t, dir, k, 2, 10)
		src := e.newSource(t, dir, k.fmt, file.SourceConfig[rec]{Monitor: time.Second})
		if src.Boundedness() != connector.Unbounded {
			t.Fatal("source with Monitor is bounded")
		}
		en, ec, rs := start(t, src, 2, nil, nil)
		d, ok := en.(connector.Discoverer)
		if !ok || d.DiscoveryInterval() != time.Second {
			t.Fatalf("enumerator %T is not a Discoverer with a 1 s interval", en)
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
		hiddenPath := e.path(dir, "sub0/.new.jsonl")
		e.writeFile(t, hiddenPath, k, recs)
		if err := d.Discover(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(ec.assigned) != 0 {
			t.Fatalf("a hidden file was assigned: %v", ec.assigned)
		}
		newPath := e.path(dir, "sub0/new.jsonl")
		e.rename(t, hiddenPath, newPath)
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
		snap, err := en.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		third := e.path(dir, "third.jsonl")
		e.writeFile(t, third, k, []rec{{File: 3, N: 3}})
		e2, ec2, _ := start(t, src, 3, codec(t, src, snap), nil)
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
	})
}

func TestSourceMalformed(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		name := e.path(dir, "bad.jsonl")
		lines := `{"file":1,"n":1,"text":"a"}` + "\n" + `{"file":1,"n":2,"text":"b"}` + "\n" + `{"file":1,"n":` + "\n" +
			`{"file":1,"n":"four"}` + "\n" + `{"file":1,"n":5,"text":"e"}` + "\n"
		e.put(t, name, []byte(lines))
		badOffset := int64(len(`{"file":1,"n":1,"text":"a"}`+"\n") * 2)

		t.Run("fail", func(t *testing.T) {
			src := e.newSource(t, dir, file.JSONLines[rec](), file.SourceConfig[rec]{})
			_, _, rs := start(t, src, 1, nil, nil)
			_, err := rs[0].Read(t.Context(), newOutput(t))
			var rerr *format.RecordError
			if !errors.As(err, &rerr) {
				t.Fatalf("Read: %v, want a *format.RecordError", err)
			}
			msg := err.Error()
			for _, want := range []string{name, "line 3", fmt.Sprintf("offset %d", badOffset), "json"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not name %q", msg, want)
				}
			}
			if rerr.Source != name || rerr.Line != 3 || rerr.Offset != badOffset || string(rerr.Raw) != `{"file":1,"n":` {
				t.Errorf("RecordError %+v", rerr)
			}
		})
		t.Run("dead-letter", func(t *testing.T) {
			var dead []*format.RecordError
			src := e.newSource(t, dir, file.JSONLines[rec](), file.SourceConfig[rec]{DeadLetter: func(e *format.RecordError) error {
				dead = append(dead, e)
				return nil
			}})
			_, _, rs := start(t, src, 1, nil, nil)
			out := newOutput(t)
			pump(t, rs, out, nil)
			if got := out.got[name]; len(got) != 3 || got[2].N != 5 {
				t.Fatalf("read %+v, want records 1, 2 and 5", got)
			}
			if len(dead) != 2 || dead[0].Line != 3 || dead[1].Line != 4 || dead[1].Field == "" {
				t.Fatalf("dead letters %+v", dead)
			}
		})
		t.Run("dead-letter-error", func(t *testing.T) {
			stop := errors.New("too many")
			src := e.newSource(t, dir, file.JSONLines[rec](), file.SourceConfig[rec]{DeadLetter: func(*format.RecordError) error { return stop }})
			_, _, rs := start(t, src, 1, nil, nil)
			if _, err := rs[0].Read(t.Context(), newOutput(t)); !errors.Is(err, stop) {
				t.Fatalf("Read: %v, want the dead-letter output's error", err)
			}
		})
		t.Run("lines", func(t *testing.T) {
			// A decode function of its own: its errors become records errors with positions.
			var dead []*format.RecordError
			decode := func(line []byte) (rec, error) {
				if bytes.Contains(line, []byte(`"four"`)) {
					return rec{}, errors.New("four is a word")
				}
				if bytes.Contains(line, []byte(`"n":5`)) {
					return rec{}, fmt.Errorf("blank, really: %w", format.ErrBlank)
				}
				return rec{N: int64(len(line))}, nil
			}
			src := e.newSource(t, dir, file.Lines(decode), file.SourceConfig[rec]{DeadLetter: func(e *format.RecordError) error {
				dead = append(dead, e)
				return nil
			}})
			_, _, rs := start(t, src, 1, nil, nil)
			out := newOutput(t)
			pump(t, rs, out, nil)
			if got := out.got[name]; len(got) != 3 {
				t.Fatalf("read %+v, want 3 records", got)
			}
			if len(dead) != 1 || dead[0].Line != 4 || dead[0].Source != name || string(dead[0].Raw) != `{"file":1,"n":"four"}` {
				t.Fatalf("dead letters %+v, want line 4", dead)
			}
		})
	})
}

// TestSourceSkipsBlankLines checks that JSON lines of white space are skipped like empty lines
// but still counted, so the position of a later malformed line is right, while a line of other
// space (U+00A0) and a CSV record of spaces are malformed records, not skipped.
func TestSourceSkipsBlankLines(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		line := func(n int) string { return fmt.Sprintf(`{"file":1,"n":%d,"text":"x"}`, n) + "\n" }
		content := line(1) + "   \n" + "\t \r\n" + line(2) + "\n" + " \n" + line(3) + "\u00a0\n" + line(4)
		name := e.path(dir, "blank.jsonl")
		e.put(t, name, []byte(content))
		var dead []*format.RecordError
		deadLetter := func(e *format.RecordError) error {
			dead = append(dead, e)
			return nil
		}
		src := e.newSource(t, dir, file.JSONLines[rec](), file.SourceConfig[rec]{DeadLetter: deadLetter})
		_, _, rs := start(t, src, 1, nil, nil)
		out := newOutput(t)
		pump(t, rs, out, nil)
		if got := out.got[name]; len(got) != 4 || got[0].N != 1 || got[3].N != 4 {
			t.Fatalf("read %+v, want records 1 to 4", got)
		}
		if len(dead) != 1 || dead[0].Line != 8 || string(dead[0].Raw) != "\u00a0" {
			t.Fatalf("dead letters %+v, want only the no-break space at line 8", dead)
		}

		csvDir := e.dir(t)
		e.put(t, e.path(csvDir, "blank.csv"), []byte("1,1,x\n\n  \n1,2,y\n"))
		dead = nil
		src = e.newSource(t, csvDir, file.CSV[rec](csv.Options{}, false), file.SourceConfig[rec]{DeadLetter: deadLetter})
		_, _, rs = start(t, src, 1, nil, nil)
		out = newOutput(t)
		pump(t, rs, out, nil)
		if out.total() != 2 || len(dead) != 1 || dead[0].Line != 3 {
			t.Fatalf("CSV: read %+v, dead letters %+v; want 2 records and the record of spaces (line 3) as malformed", out.got, dead)
		}
	})
}

func TestSourceConfigErrors(t *testing.T) {
	dir := t.TempDir()
	jsonl := file.JSONLines[rec]()
	for name, f := range map[string]func() error{
		"zero format": func() error { _, err := file.NewSource(file.SourceConfig[rec]{Path: dir}); return err },
		"empty path":  func() error { _, err := file.NewSource(file.SourceConfig[rec]{Format: jsonl}); return err },
		"bad batch": func() error {
			_, err := file.NewSource(file.SourceConfig[rec]{Path: dir, Format: jsonl, ReadBatch: -1})
			return err
		},
		"bad monitor": func() error {
			_, err := file.NewSource(file.SourceConfig[rec]{Path: dir, Format: jsonl, Monitor: -1})
			return err
		},
		"bad max size": func() error {
			_, err := file.NewSource(file.SourceConfig[rec]{Path: dir, Format: jsonl, MaxRecordSize: -1})
			return err
		},
		"bad pattern": func() error {
			_, err := file.NewSource(file.SourceConfig[rec]{Path: dir + "/[", Format: jsonl})
			return err
		},
		"parquet int": func() error {
			_, err := file.NewSource(file.SourceConfig[int]{Path: dir, Format: file.Parquet[int]()})
			return err
		},
		"nil lines": func() error {
			_, err := file.NewSource(file.SourceConfig[int]{Path: dir, Format: file.Lines[int](nil)})
			return err
		},
		"csv chan": func() error {
			_, err := file.NewSource(file.SourceConfig[struct{ C chan int }]{Path: dir, Format: file.CSV[struct{ C chan int }](csv.Options{}, false)})
			return err
		},
	} {
		if err := f(); err == nil || !strings.HasPrefix(err.Error(), "file: source: ") {
			t.Errorf("%s: %v, want an error prefixed file: source:", name, err)
		}
	}
	if err := (file.SourceConfig[rec]{Path: dir, Format: jsonl}).Validate(); err != nil {
		t.Errorf("Validate of a usable config: %v", err)
	}
	// A local directory that does not exist fails the first listing.
	src, err := file.NewSource(file.SourceConfig[rec]{Path: dir + "/nope", Format: jsonl})
	if err != nil {
		t.Fatal(err)
	}
	en, err := src.NewEnumerator(newEnumCtx(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("listing a missing directory: %v", err)
	}
}

func TestSourceReadErrors(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		dir := e.dir(t)
		src := e.newSource(t, dir, file.JSONLines[rec](), file.SourceConfig[rec]{})
		for _, b := range [][]byte{nil, {1}, {3, 'f'}, {1, 'x'}, {2, 0}, {1, 'f', 3, 'a', 'b'}, {1, 'f', 1, 'a', 0, 0},
			{1, 'f', 2, '/', 'a', 0, 0, 9}, {1, 's', 200}, {2, 'f', 0, 0, 0, 0, 0}} {
			if _, err := src.DecodeSplit(b); !errors.Is(err, file.ErrBadSplit) {
				t.Errorf("DecodeSplit(%v): %v, want ErrBadSplit", b, err)
			}
		}
		if _, err := src.EncodeSplit(fakeSplit{}); err == nil {
			t.Error("EncodeSplit of a foreign split: no error")
		}
		// Restored file splits without the record of files seen are refused.
		if _, err := src.NewEnumerator(newEnumCtx(1), []connector.Split{&file.Split{Path: e.path(dir, "x")}}); err == nil {
			t.Error("restore without the seen record: no error")
		}
		// A file that disappeared fails the read, naming it.
		_, _, rs := start(t, src, 1, nil, []connector.Split{&file.Split{Path: e.path(dir, "gone.jsonl"), Offset: 10, Records: 1}})
		if _, err := rs[0].Read(t.Context(), newOutput(t)); err == nil || !strings.Contains(err.Error(), "gone.jsonl") {
			t.Errorf("reading a removed file: %v", err)
		}
		// A compressed file shorter than its position.
		gz := e.path(dir, "short.jsonl.gz")
		e.writeFile(t, gz, kinds[1], []rec{{N: 1}})
		_, _, rs = start(t, src, 1, []connector.Split{}, []connector.Split{&file.Split{Path: gz, Offset: 100, Records: 5}})
		if _, err := rs[0].Read(t.Context(), newOutput(t)); err == nil || !strings.Contains(err.Error(), "short.jsonl.gz") {
			t.Errorf("reading past the end of a compressed file: %v", err)
		}
		// A too-long line.
		long := e.dir(t)
		e.put(t, e.path(long, "l.jsonl"), append(bytes.Repeat([]byte("x"), 5000), '\n'))
		src = e.newSource(t, long, file.JSONLines[rec](), file.SourceConfig[rec]{MaxRecordSize: 1000})
		_, _, rs = start(t, src, 1, nil, nil)
		if _, err := rs[0].Read(t.Context(), newOutput(t)); err == nil || !strings.Contains(err.Error(), "maximum record size") {
			t.Errorf("reading a too-long line: %v", err)
		}
		if e.srv == nil {
			return
		}
		// On S3 a file replaced after it was listed fails the read: its ETag changed.
		changed := e.dir(t)
		name := e.path(changed, "a.jsonl")
		e.writeFile(t, name, kinds[0], []rec{{N: 1}})
		src = e.newSource(t, changed, file.JSONLines[rec](), file.SourceConfig[rec]{})
		_, _, rs = start(t, src, 1, nil, nil)
		e.writeFile(t, name, kinds[0], []rec{{N: 2}, {N: 3}})
		if _, err := rs[0].Read(t.Context(), newOutput(t)); !errors.Is(err, filesystem.ErrChanged) || !strings.Contains(err.Error(), name) {
			t.Errorf("reading a replaced object: %v, want ErrChanged naming it", err)
		}
	})
}

// TestSplitCodecReadsEarlierVersions decodes splits as earlier builds of the file and S3
// sources wrote them into checkpoints.
func TestSplitCodecReadsEarlierVersions(t *testing.T) {
	local, err := file.NewSource(file.SourceConfig[rec]{Path: "/data", Format: file.JSONLines[rec]()})
	if err != nil {
		t.Fatal(err)
	}
	s3src := s3Source(t, "s3://bkt/prefix")
	str := func(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		src  *file.Source[rec]
		b    []byte
		want connector.Split
	}{
		{"file split v1", local, cat([]byte{1, 'f'}, str("/data/a.jsonl"), binary.AppendUvarint(nil, 1234), binary.AppendUvarint(nil, 56)),
			&file.Split{Path: "/data/a.jsonl", Offset: 1234, Records: 56}},
		{"file seen v1", local, cat([]byte{1, 's', 2}, str("/data/a"), str("/data/b")), nil},
		{"s3 split v1", s3src, cat([]byte{1, 0}, str("prefix/a.jsonl.gz"), str(`"etag"`), binary.AppendVarint(nil, 99), binary.AppendVarint(nil, 0), binary.AppendVarint(nil, 7)),
			&file.Split{Path: "s3://bkt/prefix/a.jsonl.gz", Size: 99, Version: `"etag"`, Records: 7}},
		{"s3 seen v1", s3src, cat([]byte{1, 1, 1}, str("prefix/a.jsonl")), nil},
	} {
		sp, err := tc.src.DecodeSplit(tc.b)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.want != nil && *sp.(*file.Split) != *tc.want.(*file.Split) {
			t.Errorf("%s: decoded %+v, want %+v", tc.name, sp, tc.want)
		}
		if tc.want == nil {
			// The record of files seen: a restored enumerator never lists them again.
			en, err := tc.src.NewEnumerator(newEnumCtx(1), []connector.Split{sp})
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			snap, _ := en.Snapshot()
			b, _ := tc.src.EncodeSplit(snap[0])
			if again, err := tc.src.DecodeSplit(b); err != nil || again.SplitID() != sp.SplitID() {
				t.Errorf("%s: re-encoded as %v, %v", tc.name, again, err)
			}
		}
	}
	// An S3 source's split restored into a local source cannot name its file.
	if _, err := local.DecodeSplit(cat([]byte{1, 0}, str("k"), str(""), []byte{0, 0, 0})); !errors.Is(err, file.ErrBadSplit) {
		t.Errorf("an S3 split in a local source: %v", err)
	}
}

// s3Source returns a source on an S3 file system that is never reached.
func s3Source(t testing.TB, path string) *file.Source[rec] {
	fsys, err := s3.NewFS(context.Background(), s3.Config{Connection: s3.Connection{Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		AccessKeyID: "a", SecretAccessKey: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := file.NewSource(file.SourceConfig[rec]{FS: fsys, Path: path, Format: file.JSONLines[rec]()})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

type fakeSplit struct{}

func (fakeSplit) SplitID() string { return "fake" }

// FuzzDecodeSplit checks that DecodeSplit never panics, and that what it accepts encodes to
// bytes that decode to the same split. It decodes as a source on S3, which reads every
// encoding of the earlier file and S3 sources.
func FuzzDecodeSplit(f *testing.F) {
	src := s3Source(f, "s3://bkt/p")
	for _, sp := range []connector.Split{
		&file.Split{Path: "/a/b.jsonl", Offset: 1234, Records: 56},
		&file.Split{Path: "s3://bkt/p/x.parquet", Size: 4096, Version: `"abc"`, Records: 9},
		&file.Split{Path: "/x"},
	} {
		b, _ := src.EncodeSplit(sp)
		f.Add(b)
	}
	en, err := src.NewEnumerator(newEnumCtx(1), []connector.Split{})
	if err != nil {
		f.Fatal(err)
	}
	snap, _ := en.Snapshot()
	b, _ := src.EncodeSplit(snap[0])
	f.Add(b)
	f.Add([]byte{1, 's', 2, 2, '/', 'a', 2, '/', 'b'})
	f.Add([]byte{1, 'f', 2, '/', 'a', 0x80, 1, 3})
	f.Add([]byte{1, 0, 1, 'k', 1, 'e', 2, 0, 4})
	f.Add([]byte{1, 1, 2, 1, 'a', 1, 'b'})
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
		sp2, err := src.DecodeSplit(again)
		if err != nil || !reflect.DeepEqual(sp, sp2) {
			t.Fatalf("decoded %x as %+v, which encodes as %x and decodes as %+v, %v", b, sp, again, sp2, err)
		}
	})
}
