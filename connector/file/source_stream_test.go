package file_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// TestSourceJobSurvivesFailures runs files → map (with injected failures) → exactly-once file
// sink with checkpoints every few milliseconds, restarting from the latest checkpoint after
// each failure: the committed output is exactly the input, every record once.
func TestSourceJobSurvivesFailures(t *testing.T) {
	eachFS(t, testSourceJobSurvivesFailures)
}

func testSourceJobSurvivesFailures(t *testing.T, e *fsEnv) {
	for _, c := range []struct {
		name  string
		kinds []kind
	}{
		{"json-and-gzip", []kind{kinds[0], kinds[1]}},
		{"csv", []kind{kinds[3]}},
		{"parquet", []kind{kinds[6]}},
	} {
		for seed := range uint64(map[string]int{"local": 2, "s3": 1}[e.name]) {
			t.Run(fmt.Sprintf("%s/seed%d", c.name, seed), func(t *testing.T) {
				in := e.dir(t)
				var want []string
				for i, k := range c.kinds {
					for _, recs := range e.writeFiles(t, e.path(in, fmt.Sprint(i)), k, 5, 4000) {
						for _, r := range recs {
							want = append(want, line(r))
						}
					}
				}
				slices.Sort(want)
				rng := rand.New(rand.NewPCG(seed, 7))
				var points []int64
				for at := int64(0); len(points) < 4; {
					at += 2000 + rng.Int64N(4000)
					points = append(points, at)
				}
				var seen, failures atomic.Int64
				src := e.newSource(t, in, c.kinds[0].fmt, file.SourceConfig[rec]{ReadBatch: 16})
				out := e.dir(t)
				sink, err := file.NewSink(file.SinkConfig[string]{FS: e.fs, Dir: out,
					Encode: func(dst []byte, s string) []byte { return append(append(dst, s...), '\n') }})
				if err != nil {
					t.Fatal(err)
				}
				st, err := checkpoint.NewLocal(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				var restored atomic.Int64
				var last atomic.Pointer[metrics.Checkpoints]
				cfg := stream.Config{
					Parallelism: 3,
					Checkpoints: stream.Checkpoints{
						Storage:  st,
						Interval: 2 * time.Millisecond, TolerableFailures: 1000,
						Restart: restart.FixedDelay(1000, 0),
					},
					MetricsInterval: time.Millisecond,
					Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
						if c := s.Checkpoints; c != nil {
							last.Store(c)
							if c.Restored > 0 {
								restored.Store(c.Restored)
							}
						}
					}),
				}
				env := stream.New("file-source", cfg)
				recs := stream.FromSource(env, src, eventtime.Monotonous(func(r rec) int64 { return r.N })).Uid("files")
				lines := stream.Map(recs, func(r rec) string {
					n := seen.Add(1)
					if slices.Contains(points, n) {
						failures.Add(1)
						panic(fmt.Sprintf("injected failure at record %d", n))
					}
					if n%50 == 0 {
						time.Sleep(time.Millisecond) // let checkpoints complete between failures
					}
					return line(r)
				}).Uid("map")
				lines.Rebalance().SinkTo(sink).Uid("sink")
				if err := env.Execute(context.Background()); err != nil {
					t.Fatal(err)
				}
				ck := last.Load()
				t.Logf("%d failures injected; checkpoints: %+v", failures.Load(), *ck)
				if int(failures.Load()) != len(points) || ck.Restarts != len(points) {
					t.Fatalf("%d failures and %d restarts, want %d", failures.Load(), ck.Restarts, len(points))
				}
				if restored.Load() == 0 {
					t.Fatal("no restart restored a checkpoint")
				}
				got := committed(t, e, out)
				if !slices.Equal(got, want) {
					t.Fatalf("committed %d lines, want %d (first differing: %v)", len(got), len(want), firstDiff(got, want))
				}
			})
		}
	}
}

func line(r rec) string { return fmt.Sprintf("%d %d %q", r.File, r.N, r.Text) }

// committed returns the committed lines below dir, sorted, and checks that nothing
// uncommitted is left.
func committed(t testing.TB, e *fsEnv, dir string) []string {
	t.Helper()
	l := e.list(t, dir)
	if len(l.hidden) != 0 {
		t.Errorf("uncommitted files left: %v", l.hidden)
	}
	var lines []string
	for row, n := range l.rows {
		for range n {
			lines = append(lines, row)
		}
	}
	slices.Sort(lines)
	return lines
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got %q, want %q at %d", got[i], want[i], i)
		}
	}
	return "one is a prefix of the other"
}
