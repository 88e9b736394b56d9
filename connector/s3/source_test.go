package s3_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/json"
)

func newSource(t *testing.T, e *testEnv, prefix string, opts ...s3.SourceOption) *s3.Source[string] {
	t.Helper()
	src, err := s3.NewSource(e.url(prefix), identity, append([]s3.SourceOption{s3.SourceConnection(e.conn)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func newReader(t *testing.T, src *s3.Source[string], subtask int) connector.Reader[string] {
	t.Helper()
	r, err := src.NewReader(connector.ReaderContext{Subtask: subtask, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// numbered returns n lines "<name>-<i>", newline-terminated.
func numbered(name string, n int) (string, []string) {
	var b strings.Builder
	var ls []string
	for i := range n {
		l := fmt.Sprintf("%s-%04d", name, i)
		ls = append(ls, l)
		b.WriteString(l + "\n")
	}
	return b.String(), ls
}

// TestSourceReadsAll reads plain, gzip and zstd objects with two readers, skipping hidden
// objects and blank lines, with CRLF line ends and an unterminated last line.
func TestSourceReadsAll(t *testing.T) {
	e := newEnv(t)
	var want []string
	plain, ls := numbered("plain", 300)
	want = append(want, ls...)
	e.put(t, "in/dt=1/a.jsonl", []byte(plain+"\r\n\ncrlf\r\nlast"))
	want = append(want, "crlf", "last")
	gz, ls := numbered("gz", 200)
	want = append(want, ls...)
	e.put(t, "in/dt=2/b.jsonl.gz", gzipped(t, gz))
	zs, ls := numbered("zst", 100)
	want = append(want, ls...)
	e.put(t, "in/c.jsonl.zst", zstded(t, zs))
	e.put(t, "in/empty.jsonl", nil)
	e.put(t, "in/_SUCCESS", []byte("not data\n"))
	e.put(t, "in/dt=1/.part.inprogress", []byte("not data\n"))
	e.put(t, "other/x.jsonl", []byte("not below the prefix\n"))

	src := newSource(t, e, "in", s3.BatchLines(64))
	if src.Boundedness() != connector.Bounded {
		t.Fatal("not bounded")
	}
	ec := newEnumCtx(2)
	en, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	out := &output{}
	for sub := range 2 {
		if err := en.AddReader(t.Context(), sub); err != nil {
			t.Fatal(err)
		}
		if !ec.noMore[sub] {
			t.Fatalf("reader %d not told there are no more splits", sub)
		}
		r := newReader(t, src, sub)
		r.AddSplits(ec.take(sub))
		r.NoMoreSplits()
		if st := readUntil(t, r, out, -1); st != connector.EndOfInput {
			t.Fatalf("status %v", st)
		}
	}
	if !maps.Equal(rows(out.vals...), rows(want...)) {
		t.Fatalf("read %d lines, want %d", len(out.vals), len(want))
	}
	slices.Sort(out.released)
	if want := []string{"in/c.jsonl.zst", "in/dt=1/a.jsonl", "in/dt=2/b.jsonl.gz", "in/empty.jsonl"}; !slices.Equal(out.released, want) {
		t.Fatalf("released %v, want %v", out.released, want)
	}
}

// TestSourceRestoreMidObject snapshots a reader in the middle of an object, passes the
// splits through the codec and continues in a new reader: every line exactly once.
func TestSourceRestoreMidObject(t *testing.T) {
	e := newEnv(t)
	plain, lp := numbered("p", 500)
	gz, lg := numbered("g", 500)
	zs, lz := numbered("z", 500)
	e.put(t, "in/p.jsonl", []byte(plain))
	e.put(t, "in/g.jsonl.gz", gzipped(t, gz))
	e.put(t, "in/z.jsonl.zst", zstded(t, zs))
	want := slices.Concat(lp, lg, lz)

	src := newSource(t, e, "in", s3.BatchLines(7))
	ec := newEnumCtx(1)
	en, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := en.AddReader(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	splits := ec.take(0)
	var got []string
	for round, stop := range []int{123, 611, 1000, 1400, -1} {
		r := newReader(t, src, 0)
		r.AddSplits(splits)
		r.NoMoreSplits()
		out := &output{}
		st := readUntil(t, r, out, stop-len(got))
		got = append(got, out.vals...)
		if st == connector.EndOfInput {
			if stop != -1 {
				t.Fatalf("round %d: ended early", round)
			}
			break
		}
		snap, err := r.Snapshot(int64(round))
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		splits = nil
		for _, sp := range snap {
			b, err := src.EncodeSplit(sp)
			if err != nil {
				t.Fatal(err)
			}
			d, err := src.DecodeSplit(b)
			if err != nil {
				t.Fatal(err)
			}
			splits = append(splits, d)
		}
	}
	if !maps.Equal(rows(got...), rows(want...)) || len(got) != len(want) {
		t.Fatalf("read %d lines (%d distinct), want %d exactly once", len(got), len(rows(got...)), len(want))
	}
}

func TestSourceMalformed(t *testing.T) {
	e := newEnv(t)
	e.put(t, "in/a.jsonl", []byte("1\n2\nbad\n4\n"))
	e.put(t, "in/b.jsonl.gz", gzipped(t, "5\nworse\n"))
	decode := func(line []byte) (int, error) {
		var v int
		_, err := fmt.Sscanf(string(line), "%d", &v)
		return v, err
	}
	run := func(opts ...s3.SourceOption) ([]int, error) {
		src, err := s3.NewSource(e.url("in"), decode, append([]s3.SourceOption{s3.SourceConnection(e.conn)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		ec := newEnumCtx(1)
		en, _ := src.NewEnumerator(ec, nil)
		if err := en.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		_ = en.AddReader(t.Context(), 0)
		r, _ := src.NewReader(connector.ReaderContext{})
		defer r.Close()
		r.AddSplits(ec.take(0))
		r.NoMoreSplits()
		out := &intOutput{}
		for {
			st, err := r.Read(t.Context(), out)
			if err != nil || st == connector.EndOfInput {
				return out.vals, err
			}
		}
	}
	_, err := run()
	var rerr *format.RecordError
	if !errors.As(err, &rerr) || rerr.Source != "s3://"+e.bucket+"/in/a.jsonl" || rerr.Line != 3 || rerr.Offset != 4 || string(rerr.Raw) != "bad" {
		t.Fatalf("fail policy: %v (%+v)", err, rerr)
	}
	if msg := err.Error(); !strings.Contains(msg, "in/a.jsonl line 3 offset 4") {
		t.Fatalf("message %q does not name the object, line and offset", msg)
	}
	var dead []*format.RecordError
	vals, err := run(s3.OnMalformed(format.DeadLetter, func(r *format.RecordError) error { dead = append(dead, r); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vals, []int{1, 2, 4, 5}) || len(dead) != 2 || dead[1].Line != 2 || dead[1].Offset != -1 || !strings.HasSuffix(dead[1].Source, ".gz") {
		t.Fatalf("dead-letter policy: values %v, dead letters %v", vals, dead)
	}
	if _, err := s3.NewSource(e.url("in"), decode, s3.OnMalformed(format.DeadLetter, nil)); !errors.Is(err, format.ErrNoDeadLetter) {
		t.Fatalf("dead-letter policy without output: %v", err)
	}
}

// TestSourceSkipsBlankLines reads JSON lines with format/json's decoder: lines of white space
// are skipped like empty ones, and still counted in the position of a later malformed line.
func TestSourceSkipsBlankLines(t *testing.T) {
	e := newEnv(t)
	e.put(t, "in/a.jsonl", []byte("{\"n\":1}\n  \n\t\r\n{\"n\":2}\r\n \r\n\n{\"n\":3}\n{\"n\":\n"))
	dec, err := json.NewDecoder[struct{ N int }]()
	if err != nil {
		t.Fatal(err)
	}
	src, err := s3.NewSource(e.url("in"), func(line []byte) (int, error) {
		v, err := s3.Decode(dec)(line)
		return v.N, err
	}, s3.SourceConnection(e.conn))
	if err != nil {
		t.Fatal(err)
	}
	ec := newEnumCtx(1)
	en, _ := src.NewEnumerator(ec, nil)
	if err := en.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = en.AddReader(t.Context(), 0)
	r, _ := src.NewReader(connector.ReaderContext{})
	defer r.Close()
	r.AddSplits(ec.take(0))
	r.NoMoreSplits()
	out := &intOutput{}
	for err == nil {
		var st connector.ReadStatus
		if st, err = r.Read(t.Context(), out); st == connector.EndOfInput {
			break
		}
	}
	var rerr *format.RecordError
	if !errors.As(err, &rerr) || rerr.Line != 8 || string(rerr.Raw) != `{"n":` {
		t.Fatalf("Read: %v (%+v), want the malformed line 8", err, rerr)
	}
	if !slices.Equal(out.vals, []int{1, 2, 3}) {
		t.Fatalf("read %v, want 1, 2, 3", out.vals)
	}
}

type intOutput struct{ vals []int }
type intSplitOut struct{ o *intOutput }

func (s intSplitOut) Collect(v int, _ int64)                 { s.o.vals = append(s.o.vals, v) }
func (o *intOutput) Split(string) connector.SplitOutput[int] { return intSplitOut{o} }
func (o *intOutput) ReleaseSplit(string)                     {}

// TestSourceMonitor discovers new objects, and a restored enumerator does not hand out the
// objects it had seen.
func TestSourceMonitor(t *testing.T) {
	e := newEnv(t)
	e.put(t, "in/1.jsonl", []byte("a\n"))
	src := newSource(t, e, "in", s3.Monitor(time.Second))
	if src.Boundedness() != connector.Unbounded {
		t.Fatal("not unbounded")
	}
	ec := newEnumCtx(1)
	en, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := en.(connector.Discoverer)
	if !ok || d.DiscoveryInterval() != 1 {
		t.Fatalf("enumerator %T is no Discoverer with a 1 s interval", en)
	}
	if err := en.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = en.AddReader(t.Context(), 0)
	if got := ec.take(0); len(got) != 1 || ec.noMore[0] {
		t.Fatalf("first listing: %v, no more %v", got, ec.noMore[0])
	}
	e.put(t, "in/2.jsonl", []byte("b\n"))
	if err := d.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := ec.take(0); len(got) != 1 || got[0].SplitID() != "in/2.jsonl" {
		t.Fatalf("discovered %v", got)
	}
	snap, err := en.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var restored []connector.Split
	for _, sp := range snap {
		b, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		dsp, err := src.DecodeSplit(b)
		if err != nil {
			t.Fatal(err)
		}
		restored = append(restored, dsp)
	}
	e.put(t, "in/3.jsonl", []byte("c\n"))
	ec = newEnumCtx(1)
	en, err = src.NewEnumerator(ec, restored)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = en.AddReader(t.Context(), 0)
	if err := en.(connector.Discoverer).Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := ec.take(0); len(got) != 1 || got[0].SplitID() != "in/3.jsonl" {
		t.Fatalf("after restore: %v, want in/3.jsonl only", got)
	}
}

func TestSplitCodec(t *testing.T) {
	src, err := s3.NewSource("s3://b/p", identity)
	if err != nil {
		t.Fatal(err)
	}
	sp := &s3.Split{Key: "p/a.jsonl", Size: 100, ETag: `"abc"`, Offset: 42, Line: 3}
	b, err := src.EncodeSplit(sp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.DecodeSplit(b)
	if err != nil || *got.(*s3.Split) != *sp {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, b[1:]...),
		"truncated": b[:len(b)-1],
		"trailing":  append(append([]byte{}, b...), 0),
		"kind":      {1, 7},
	} {
		if _, err := src.DecodeSplit(bad); !errors.Is(err, s3.ErrBadSplit) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := src.DecodeSplit(mustEncode(t, src, &s3.Split{Key: "a.gz", Size: 10, Offset: 5})); !errors.Is(err, s3.ErrBadSplit) {
		t.Errorf("compressed object with an offset: %v", err)
	}
}

func mustEncode(t *testing.T, src *s3.Source[string], sp connector.Split) []byte {
	b, err := src.EncodeSplit(sp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeSplit(f *testing.F) {
	src, _ := s3.NewSource("s3://b/p", identity)
	for _, sp := range []connector.Split{&s3.Split{Key: "k", Size: 9, Offset: 3, Line: 1}} {
		b, _ := src.EncodeSplit(sp)
		f.Add(b)
	}
	f.Add([]byte{1, 1, 2, 1, 'a', 1, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := src.DecodeSplit(b)
		if err != nil {
			return
		}
		again, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		if sp2, err := src.DecodeSplit(again); err != nil || fmt.Sprint(sp2) != fmt.Sprint(sp) {
			t.Fatalf("re-decoding %x: %v, %v", again, sp2, err)
		}
	})
}
