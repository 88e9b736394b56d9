package file_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// TestBulkSinkExactlyOnce copies Parquet files into a Parquet sink, and Avro files into an
// Avro sink, through a job with failures and checkpoints, bucketed, then reads the committed
// parts back with the source of the format: every record exactly once, and every committed
// part a complete file.
func TestBulkSinkExactlyOnce(t *testing.T) {
	bucket := func(r rec, _ int64) string { return fmt.Sprintf("file=%d", r.File) }
	eachFS(t, func(t *testing.T, e *fsEnv) {
		for _, tc := range []struct {
			kind kind
			sink func(dir string) (*file.Sink[rec], error)
		}{
			{kinds[6], func(dir string) (*file.Sink[rec], error) {
				return file.NewParquetSink(file.SinkConfig[rec]{FS: e.fs, Dir: dir, Bucket: bucket},
					parquet.WriterOptions{Compression: parquet.Zstd, RowGroupRows: 100})
			}},
			{kinds[7], func(dir string) (*file.Sink[rec], error) {
				return file.NewAvroSink(file.SinkConfig[rec]{FS: e.fs, Dir: dir, Bucket: bucket},
					avro.FileOptions{Codec: "deflate", BlockLength: 100})
			}},
		} {
			t.Run(tc.kind.name, func(t *testing.T) { testBulkSinkExactlyOnce(t, e, tc.kind, tc.sink) })
		}
	})
}

func testBulkSinkExactlyOnce(t *testing.T, e *fsEnv, k kind, newSink func(string) (*file.Sink[rec], error)) {
	in := e.dir(t)
	var want []rec
	for _, recs := range e.writeFiles(t, in, k, 4, 3000) {
		want = append(want, recs...)
	}
	src := e.newSource(t, in, k.fmt, file.SourceConfig[rec]{ReadBatch: 16})
	out := e.dir(t)
	sink, err := newSink(out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.Config{Parallelism: 2, Checkpoints: stream.Checkpoints{
		Storage:  st,
		Interval: 2 * time.Millisecond, TolerableFailures: 1000,
		Restart: restart.FixedDelay(1000, 0),
	}}
	var seen, failures atomic.Int64
	env := stream.New(k.name+"-copy", cfg)
	recs := stream.FromSource(env, src, eventtime.Monotonous(func(r rec) int64 { return r.N })).Uid("files")
	stream.Map(recs, func(r rec) rec {
		n := seen.Add(1)
		if n == 2500 || n == 6000 {
			failures.Add(1)
			panic(fmt.Sprintf("injected failure at record %d", n))
		}
		if n%50 == 0 {
			time.Sleep(time.Millisecond)
		}
		return r
	}).Uid("map").Rebalance().SinkTo(sink).Uid("sink")
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if failures.Load() != 2 {
		t.Fatalf("%d failures injected, want 2", failures.Load())
	}
	l := e.list(t, out)
	for _, f := range l.files {
		if !strings.HasSuffix(f, k.ext) {
			t.Errorf("unexpected file %s", f)
		}
	}
	if len(l.hidden) != 0 {
		t.Errorf("uncommitted files left: %v", l.hidden)
	}
	back := e.newSource(t, out, k.fmt, file.SourceConfig[rec]{})
	_, _, rs := start(t, back, 1, nil, nil)
	o := newOutput(t)
	pump(t, rs, o, nil)
	var got []rec
	for _, v := range o.got {
		got = append(got, v...)
	}
	cmp := func(a, b rec) int {
		if a.File != b.File {
			return a.File - b.File
		}
		return int(a.N - b.N)
	}
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Fatalf("read back %d records from %d parts, want %d", len(got), len(l.files), len(want))
	}
	t.Logf("%d records in %d committed parts", len(got), len(l.files))
}

func TestBulkSinkConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := file.NewParquetSink(file.SinkConfig[int]{Dir: dir}, parquet.WriterOptions{}); err == nil {
		t.Error("a Parquet sink of ints: no error")
	}
	if _, err := file.NewParquetSink(file.SinkConfig[rec]{Dir: dir, Gzip: true}, parquet.WriterOptions{}); err == nil {
		t.Error("a gzip Parquet sink: no error")
	}
	if _, err := file.NewParquetSink(file.SinkConfig[rec]{Dir: dir}, parquet.WriterOptions{RowGroupRows: -1}); err == nil {
		t.Error("negative row group: no error")
	}
	if _, err := file.NewAvroSink(file.SinkConfig[int]{Dir: dir}, avro.FileOptions{}); err == nil || !strings.Contains(err.Error(), "file: avro sink") {
		t.Errorf("an Avro sink of ints: %v", err)
	}
	if _, err := file.NewAvroSink(file.SinkConfig[rec]{Dir: dir}, avro.FileOptions{Codec: "lz4"}); err == nil || !strings.Contains(err.Error(), `unknown file codec "lz4"`) {
		t.Errorf("an Avro sink with an unknown codec: %v", err)
	}
	encode := func(dst []byte, _ rec) []byte { return dst }
	if _, err := file.NewAvroSink(file.SinkConfig[rec]{Dir: dir, Encode: encode}, avro.FileOptions{}); err == nil || !strings.Contains(err.Error(), "do not apply to avro files") {
		t.Errorf("an Avro sink with an Encode function: %v", err)
	}
	s, err := file.NewParquetSink(file.SinkConfig[rec]{Dir: dir}, parquet.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %s, want %s", s.Dir(), dir)
	}
}
