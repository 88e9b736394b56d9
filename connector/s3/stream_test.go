package s3_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

type event struct {
	ID int `json:"id"`
}

type doubled struct {
	ID     int `json:"id"`
	Double int `json:"double"`
}

// TestExactlyOnceJob runs S3 JSON lines → Map → S3 sink with checkpoints and injected task
// failures; the committed objects hold every input line exactly once. The job finds S3
// through the standard AWS configuration chain (environment variables, AWS_ENDPOINT_URL_S3).
func TestExactlyOnceJob(t *testing.T) {
	e := newEnv(t)
	e.srv.SetEnv(t)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", e.srv.Endpoint) // the S3-specific variable alone
	const objects, perObject = 8, 1000
	for o := range objects {
		var b strings.Builder
		for i := range perObject {
			fmt.Fprintf(&b, `{"id":%d}`+"\n", o*perObject+i)
		}
		key := fmt.Sprintf("in/part-%d.jsonl", o)
		body := []byte(b.String())
		if o%3 == 0 {
			key, body = key+".gz", gzipped(t, b.String())
		}
		e.put(t, key, body)
	}
	n := objects * perObject

	src, err := s3.NewSource(e.url("in"), func(line []byte) (event, error) {
		var v event
		err := json.Unmarshal(line, &v)
		return v, err
	}, s3.BatchLines(8))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := s3.NewSink(e.url("out"), func(dst []byte, v doubled) []byte {
		b, _ := json.Marshal(v)
		return append(dst, b...)
	}, s3.PartitionBy(func(v doubled, _ int64) string { return fmt.Sprintf("mod=%d", v.ID%4) }))
	if err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(7, 99))
	var points []int64
	for at := int64(0); len(points) < 4; {
		at += 500 + rng.Int64N(1500)
		points = append(points, at)
	}
	var seen, failures atomic.Int64
	st, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var last atomic.Pointer[metrics.Checkpoints]
	var restored atomic.Int64
	cfg := stream.Config{Parallelism: 2, MetricsInterval: time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			if c := s.Checkpoints; c != nil {
				last.Store(c)
				if c.Restored > 0 {
					restored.Store(c.Restored)
				}
			}
		}),
		Checkpoints: stream.Checkpoints{
			Storage:  st,
			Interval: 2 * time.Millisecond, TolerableFailures: 1000,
			Restart: restart.FixedDelay(1000, 0),
		}}
	env := stream.New("s3-exactly-once", cfg)
	in := stream.FromSource(env, src, eventtime.Strategy[event]{}).Uid("s3-in")
	// A failure is due at each of points, but is injected only once a checkpoint completed
	// since the previous one, so that every restart has a checkpoint of its own run to restore;
	// until then the map paces the job so that one can complete.
	var mu sync.Mutex
	var completedAtFailure int64
	out := stream.Map(in, func(v event) doubled {
		n := seen.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if f := failures.Load(); f < int64(len(points)) && n >= points[f] {
			if c := last.Load(); c != nil && c.Completed > completedAtFailure {
				completedAtFailure = c.Completed
				failures.Add(1)
				panic(fmt.Sprintf("injected failure at record %d", v.ID))
			}
			time.Sleep(time.Millisecond) // pacing only: the check above decides
		}
		return doubled{ID: v.ID, Double: 2 * v.ID}
	}).Uid("map")
	out.SinkTo(sink).Uid("s3-out")
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	c := last.Load()
	t.Logf("%d failures injected, %d records through the map; checkpoints: %+v", failures.Load(), seen.Load(), *c)
	if int(failures.Load()) != len(points) || c.Restarts != len(points) {
		t.Fatalf("%d failures injected and %d restarts, want %d", failures.Load(), c.Restarts, len(points))
	}
	if restored.Load() == 0 {
		t.Fatal("no restart restored a checkpoint")
	}

	objs := e.objects(t, "out/")
	count := make([]int, n)
	for k, body := range objs {
		if !strings.HasPrefix(k, "out/mod=") || !strings.HasSuffix(k, ".jsonl") {
			t.Errorf("object %s", k)
		}
		for l := range strings.SplitSeq(strings.TrimSuffix(body, "\n"), "\n") {
			var d doubled
			if err := json.Unmarshal([]byte(l), &d); err != nil || d.ID < 0 || d.ID >= n || d.Double != 2*d.ID {
				t.Fatalf("object %s: line %q: %v", k, l, err)
			}
			if fmt.Sprintf("mod=%d", d.ID%4) != strings.Split(k, "/")[1] {
				t.Fatalf("object %s holds id %d", k, d.ID)
			}
			count[d.ID]++
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
	// Aborted and abandoned uploads (failed attempts) are cleaned up by the writers.
	if u := e.uploads(t); len(u) > 0 {
		t.Logf("incomplete uploads left for the lifecycle rule: %d", len(u))
	}
}

// TestRoundTripWithoutCheckpoints writes a slice through the sink (committed at end of input)
// and reads it back through the source, at parallelism 3, gzip-compressed.
func TestRoundTripWithoutCheckpoints(t *testing.T) {
	e := newEnv(t)
	in := make([]string, 5000)
	for i := range in {
		in[i] = fmt.Sprintf("row-%d", i%1234) // duplicates stay duplicates
	}
	sink := newSink(t, e, "rt", s3.Gzip(1), s3.PartitionByTime(func(ts int64) string { return fmt.Sprintf("bucket=%d", ts%5) }))
	env := stream.New("s3-write", stream.Config{Parallelism: 3})
	stream.FromSlice(env, in, eventtime.Monotonous(func(v string) int64 { return int64(len(v)) })).
		Rebalance().SinkTo(sink)
	if err := env.Execute(t.Context()); err != nil {
		t.Fatal(err)
	}
	if u := e.uploads(t); len(u) != 0 {
		t.Fatalf("uploads left: %v", u)
	}

	env = stream.New("s3-read", stream.Config{Parallelism: 3})
	got := stream.Collect(stream.FromSource(env, newSource(t, e, "rt"), eventtime.Strategy[string]{}))
	if err := env.Execute(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(rows(got.Values()...), rows(in...)) {
		t.Fatalf("read back %d rows (%d distinct), want %d (%d distinct)", len(got.Values()), len(rows(got.Values()...)), len(in), len(rows(in...)))
	}
}
