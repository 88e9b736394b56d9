package s3_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/format/parquet"
)

type pqRow struct {
	ID   int64  `parquet:"id" json:"id"`
	Name string `parquet:"name" json:"name"`
}

// TestParquetSink writes rows through two checkpoints into hourly partitions, with a part
// object larger than one part (several uploads per object), commits them and reads every
// committed object back with format/parquet: each is a self-describing file below a Hive
// path, and the rows are exactly those written.
func TestParquetSink(t *testing.T) {
	e := newEnv(t)
	sink, err := s3.NewParquetSink[pqRow](e.url("pq"), parquet.WriterOptions{Compression: parquet.Zstd, RowGroupRows: 4096},
		s3.SinkConnection(e.conn), s3.PartSize(s3.MinPartSize))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.NewWriter(t.Context(), connector.SinkContext{Subtask: 0})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sink.NewCommitter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	name := func() string { // random letters, so the first object outgrows a part even compressed
		b := make([]byte, 120)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	const hour = int64(3600_000)
	var want []pqRow
	id := int64(0)
	for cp := int64(1); cp <= 2; cp++ {
		n := 300
		if cp == 1 {
			n = 80000 // > 5 MiB of pages in one partition: uploaded in several parts
		}
		for range n {
			v := pqRow{ID: id, Name: name()}
			ts := int64(0)
			if cp == 2 {
				ts = id % 3 * hour
			}
			if err := w.Write(t.Context(), v, ts); err != nil {
				t.Fatal(err)
			}
			want = append(want, v)
			id++
		}
		cs, err := w.PreCommit(t.Context(), cp)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.objects(t, "pq/")) != int(cp-1) {
			t.Fatalf("checkpoint %d: objects visible before commit", cp)
		}
		if err := c.Commit(t.Context(), cs); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	objs := e.objects(t, "pq/")
	if len(objs) != 4 {
		t.Fatalf("%d objects, want 1 of checkpoint 1 and 3 partitions of checkpoint 2", len(objs))
	}
	var got []pqRow
	big := false
	for key, body := range objs {
		if !strings.HasPrefix(key, "pq/dt=1970-01-01/hour=0") || !strings.HasSuffix(key, ".parquet") {
			t.Errorf("key %s is not a Hive-partitioned .parquet object", key)
		}
		big = big || len(body) > s3.MinPartSize
		r, err := parquet.NewReader[pqRow](bytes.NewReader([]byte(body)), int64(len(body)), key)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]pqRow, 1000)
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	if !big {
		t.Error("no object exceeded one part: the multipart path was not exercised")
	}
	cmp := func(a, b pqRow) int { return int(a.ID - b.ID) }
	slices.SortFunc(got, cmp)
	if !slices.Equal(got, want) {
		t.Fatalf("read %d rows, want the %d written", len(got), len(want))
	}
	if u := e.uploads(t); len(u) > 0 {
		t.Fatalf("uploads left: %v", u)
	}
}

// TestParquetSourceRestoreMidObject reads Parquet objects of several row groups, snapshots the
// reader in the middle of an object, passes the splits through the codec and continues in a
// new reader (seeking to the row): every row exactly once, in order.
func TestParquetSourceRestoreMidObject(t *testing.T) {
	e := newEnv(t)
	var want []pqRow
	for o := range 2 {
		var b bytes.Buffer
		pw, err := parquet.NewWriter[pqRow](&b, parquet.WriterOptions{RowGroupRows: 100})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			v := pqRow{ID: int64(o*1000 + i), Name: "n" + strconv.Itoa(i)}
			if err := pw.WriteOne(v); err != nil {
				t.Fatal(err)
			}
			want = append(want, v)
		}
		if err := pw.Close(); err != nil {
			t.Fatal(err)
		}
		e.put(t, "in/f-"+strconv.Itoa(o)+".parquet", b.Bytes())
	}
	src, err := s3.NewParquetSource[pqRow](e.url("in"), s3.SourceConnection(e.conn), s3.BatchLines(37))
	if err != nil {
		t.Fatal(err)
	}
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
	var got []pqRow
	for round, stop := range []int{150, 777, 1000, 1555, -1} {
		r, err := src.NewReader(connector.ReaderContext{Subtask: 0})
		if err != nil {
			t.Fatal(err)
		}
		r.AddSplits(splits)
		r.NoMoreSplits()
		out := &rowOutput{}
		ended := false
		for !ended && (stop < 0 || len(got)+len(out.vals) < stop) {
			st, err := r.Read(t.Context(), out)
			if err != nil {
				t.Fatal(err)
			}
			ended = st == connector.EndOfInput
		}
		got = append(got, out.vals...)
		if ended {
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
	if !slices.Equal(got, want) {
		t.Fatalf("read %d rows, want the %d written once each in order", len(got), len(want))
	}
}

type rowOutput struct{ vals []pqRow }

type rowSplitOut struct{ o *rowOutput }

func (s rowSplitOut) Collect(v pqRow, _ int64)                 { s.o.vals = append(s.o.vals, v) }
func (o *rowOutput) Split(string) connector.SplitOutput[pqRow] { return rowSplitOut{o} }
func (o *rowOutput) ReleaseSplit(string)                       {}
