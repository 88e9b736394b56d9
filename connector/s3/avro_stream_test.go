package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/internal/restart"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// avRow is a record of the Avro tests, mapped by its json tags.
type avRow struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// TestAvroExactlyOnceJob runs S3 Avro → Map → S3 Avro with checkpoints and injected task
// failures, so restored readers resume inside objects; the committed Avro objects hold every
// input record exactly once.
func TestAvroExactlyOnceJob(t *testing.T) {
	e := newEnv(t)
	const objects, perObject = 4, 2000
	for o := range objects {
		var b bytes.Buffer
		pw, err := avro.NewFileWriter[avRow](&b, avro.FileOptions{Codec: "snappy", BlockLength: 256})
		if err != nil {
			t.Fatal(err)
		}
		for i := range perObject {
			if err := pw.WriteOne(avRow{ID: int64(o*perObject + i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := pw.Close(); err != nil {
			t.Fatal(err)
		}
		e.put(t, fmt.Sprintf("in/f-%d.avro", o), b.Bytes())
	}
	n := objects * perObject
	src, err := s3.NewAvroSource[avRow](e.url("in"), s3.SourceConnection(e.conn), s3.BatchLines(8))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := s3.NewAvroSink[avRow](e.url("out"), avro.FileOptions{Codec: "zstandard"},
		s3.SinkConnection(e.conn), s3.PartitionBy(func(v avRow, _ int64) string { return fmt.Sprintf("mod=%d", v.ID%4) }))
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
			Storage:     st,
			Coordinator: checkpoint.Config{Interval: 2 * time.Millisecond, TolerableFailures: 1000},
			Restart:     restart.FixedDelay(1000, 0),
		}}
	env := stream.New("s3-avro-exactly-once", cfg)
	in := stream.FromSource(env, src, eventtime.Strategy[avRow]{}).Uid("s3-in")
	out := stream.Map(in, func(v avRow) avRow {
		if slices.Contains(points, seen.Add(1)) {
			failures.Add(1)
			panic(fmt.Sprintf("injected failure at row %d", v.ID))
		}
		return avRow{ID: v.ID, Name: fmt.Sprint(2 * v.ID)}
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
		if !strings.HasPrefix(k, "out/mod=") || !strings.HasSuffix(k, ".avro") {
			t.Errorf("object %s", k)
		}
		r, err := avro.NewFileReader[avRow](strings.NewReader(body), k)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]avRow, 512)
		for {
			m, err := r.Read(buf)
			for _, v := range buf[:m] {
				if v.ID < 0 || v.ID >= int64(n) || v.Name != fmt.Sprint(2*v.ID) || fmt.Sprintf("mod=%d", v.ID%4) != strings.Split(k, "/")[1] {
					t.Fatalf("object %s: row %+v", k, v)
				}
				count[v.ID]++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
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
