package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// bulkFormat is a format whose objects frame and compress their records themselves.
type bulkFormat struct {
	name, ext string
	write     func(t *testing.T, rows []pqRow) []byte
	source    func(url string, opts ...s3.SourceOption) (*s3.Source[pqRow], error)
	sink      func(url string, opts ...s3.SinkOption) (*s3.Sink[pqRow], error)
	read      func(t *testing.T, key, body string) []pqRow
}

var bulkFormats = []bulkFormat{
	{
		name: "parquet", ext: ".parquet",
		write: func(t *testing.T, rows []pqRow) []byte {
			var b bytes.Buffer
			pw, err := parquet.NewWriter[pqRow](&b, parquet.WriterOptions{RowGroupRows: 256})
			if err == nil {
				err = pw.Write(rows)
			}
			if err == nil {
				err = pw.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		source: s3.NewParquetSource[pqRow],
		sink: func(url string, opts ...s3.SinkOption) (*s3.Sink[pqRow], error) {
			return s3.NewParquetSink[pqRow](url, parquet.WriterOptions{Compression: parquet.Zstd}, opts...)
		},
		read: func(t *testing.T, key, body string) []pqRow {
			r, err := parquet.NewReader[pqRow](strings.NewReader(body), int64(len(body)), key)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			return readAll(t, r.Read)
		},
	},
	{
		name: "avro", ext: ".avro",
		write: func(t *testing.T, rows []pqRow) []byte {
			var b bytes.Buffer
			w, err := avro.NewFileWriter[pqRow](&b, avro.FileOptions{Codec: "snappy", BlockLength: 256})
			for i := 0; err == nil && i < len(rows); i++ {
				err = w.WriteOne(rows[i])
			}
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		},
		source: s3.NewAvroSource[pqRow],
		sink: func(url string, opts ...s3.SinkOption) (*s3.Sink[pqRow], error) {
			return s3.NewAvroSink[pqRow](url, avro.FileOptions{Codec: "zstandard"}, opts...)
		},
		read: func(t *testing.T, key, body string) []pqRow {
			r, err := avro.NewFileReader[pqRow](strings.NewReader(body), key)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			return readAll(t, r.Read)
		},
	},
}

// readAll reads every row with read, until io.EOF.
func readAll(t *testing.T, read func([]pqRow) (int, error)) []pqRow {
	t.Helper()
	var out []pqRow
	buf := make([]pqRow, 512)
	for {
		n, err := read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestBulkExactlyOnceJob runs S3 → Map → S3 with checkpoints and injected task failures, for
// Parquet and for Avro objects, so restored readers resume inside objects; the committed
// objects hold every input row exactly once.
func TestBulkExactlyOnceJob(t *testing.T) {
	for _, f := range bulkFormats {
		t.Run(f.name, func(t *testing.T) { testBulkExactlyOnceJob(t, f) })
	}
}

func testBulkExactlyOnceJob(t *testing.T, f bulkFormat) {
	e := newEnv(t)
	const objects, perObject = 4, 2000
	for o := range objects {
		rows := make([]pqRow, perObject)
		for i := range rows {
			rows[i] = pqRow{ID: int64(o*perObject + i)}
		}
		e.put(t, fmt.Sprintf("in/f-%d%s", o, f.ext), f.write(t, rows))
	}
	n := objects * perObject
	src, err := f.source(e.url("in"), s3.SourceConnection(e.conn), s3.BatchLines(8))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := f.sink(e.url("out"),
		s3.SinkConnection(e.conn), s3.PartitionBy(func(v pqRow, _ int64) string { return fmt.Sprintf("mod=%d", v.ID%4) }))
	if err != nil {
		t.Fatal(err)
	}

	points := []int64{700, 2100, 4000, 6500}
	var seen, failures atomic.Int64
	st, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var last atomic.Pointer[metrics.Checkpoints]
	cfg := stream.Config{Parallelism: 2, MetricsInterval: time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			if c := s.Checkpoints; c != nil {
				last.Store(c)
			}
		}),
		Checkpoints: stream.Checkpoints{
			Storage:  st,
			Interval: 2 * time.Millisecond, TolerableFailures: 1000,
			Restart: restart.FixedDelay(1000, 0),
		}}
	env := stream.New("s3-"+f.name+"-exactly-once", cfg)
	in := stream.FromSource(env, src, eventtime.Strategy[pqRow]{}).Uid("s3-in")
	out := stream.Map(in, func(v pqRow) pqRow {
		if slices.Contains(points, seen.Add(1)) {
			failures.Add(1)
			panic(fmt.Sprintf("injected failure at row %d", v.ID))
		}
		return pqRow{ID: v.ID, Name: fmt.Sprint(2 * v.ID)}
	}).Uid("map")
	out.SinkTo(sink).Uid("s3-out")
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	c := last.Load()
	if int(failures.Load()) != len(points) || c.Restarts != len(points) {
		t.Fatalf("%d failures injected and %d restarts, want %d", failures.Load(), c.Restarts, len(points))
	}
	count := make([]int, n)
	objs := e.objects(t, "out/")
	for k, body := range objs {
		if !strings.HasPrefix(k, "out/mod=") || !strings.HasSuffix(k, f.ext) {
			t.Errorf("object %s", k)
		}
		for _, v := range f.read(t, k, body) {
			if v.ID < 0 || v.ID >= int64(n) || v.Name != fmt.Sprint(2*v.ID) || fmt.Sprintf("mod=%d", v.ID%4) != strings.Split(k, "/")[1] {
				t.Fatalf("object %s: row %+v", k, v)
			}
			count[v.ID]++
		}
	}
	var wrong []string
	for id, c := range count {
		if c != 1 {
			wrong = append(wrong, fmt.Sprintf("%d×%d", id, c))
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("%d ids not committed exactly once (first %v) in %d objects", len(wrong), wrong[:min(10, len(wrong))], len(objs))
	}
}
