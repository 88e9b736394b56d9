package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// TestCheckpointedJobSurvivesFailuresAndResharding runs a checkpointed job from a stream that
// is split and merged while failures restart the job from its checkpoints, into the
// exactly-once file sink: the committed output holds every record once. The shards' positions,
// the enumerator's assignments and the finished parents all go through checkpoints.
func TestCheckpointedJobSurvivesFailuresAndResharding(t *testing.T) {
	t.Parallel()
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testCheckpointedJob(t, m)
		})
	}
}

func testCheckpointedJob(t *testing.T, m readMode) {
	srv := kinesistest.Start(t)
	name := srv.CreateStream(t, 2)
	srcCfg := kinesis.SourceConfig{Stream: name,
		DiscoveryInterval: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond, MaxRecordsPerCall: 7}
	src, err := kinesis.NewSource(m.client(t, srv, &srcCfg), srcCfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var restored atomic.Int64
	cfg := stream.Config{Parallelism: 2, MetricsInterval: 5 * time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			if c := s.Checkpoints; c != nil && c.Restored > 0 {
				restored.Store(c.Restored)
			}
		}),
		Checkpoints: stream.Checkpoints{Storage: st,
			Interval: 20 * time.Millisecond, TolerableFailures: 1000,
			Restart: restart.FixedDelay(100, 0)}}
	env := stream.New("kinesis-checkpointed", cfg)
	points := []int64{150, 380, 610}
	var seen, failures atomic.Int64
	recs := stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}).Uid("kinesis")
	lines := stream.Map(recs, func(r kinesis.Record) string {
		if slices.Contains(points, seen.Add(1)) {
			failures.Add(1)
			panic("injected failure")
		}
		return string(r.Data)
	}).Uid("map")
	out := t.TempDir()
	sink, err := file.NewSink(file.SinkConfig[string]{Dir: out, Encode: func(dst []byte, s string) []byte { return append(append(dst, s...), '\n') }})
	if err != nil {
		t.Fatal(err)
	}
	lines.SinkTo(sink).Uid("sink")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()

	const n = 720
	for i := 0; i < n; i += 20 {
		putAll(t, srv.Client(), name, i, 20, 20)
		time.Sleep(10 * time.Millisecond)
		switch i {
		case 200:
			splitShard(t, srv, name)
		case 440:
			mergeShards(t, srv, name)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(committed(t, out)) < n {
		select {
		case err := <-done:
			t.Fatalf("the job ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records committed after 60s", len(committed(t, out)), n)
		}
	}
	// One more record per key, put last: once they are committed, every earlier record of the
	// same shards was read, duplicates included.
	putAll(t, srv.Client(), name, n, 20, 20)
	const total = n + 20
	for deadline := time.Now().Add(60 * time.Second); !hasAll(committed(t, out), n, total); {
		select {
		case err := <-done:
			t.Fatalf("the job ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last records were not committed after 60s")
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Execute: %v", err)
	}
	if int(failures.Load()) != len(points) || restored.Load() == 0 {
		t.Fatalf("%d failures injected (want %d), restored checkpoint %d", failures.Load(), len(points), restored.Load())
	}
	got := committed(t, out)
	var want []string
	for i := range total {
		want = append(want, fmt.Sprint(i))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		counts := map[string]int{}
		for _, l := range got {
			counts[l]++
		}
		var missing, dup []string
		for _, w := range want {
			switch counts[w] {
			case 0:
				missing = append(missing, w)
			case 1:
			default:
				dup = append(dup, w)
			}
		}
		t.Fatalf("%d lines committed; missing %d %v; duplicated %d %v", len(got), len(missing), missing[:min(len(missing), 10)], len(dup), dup[:min(len(dup), 10)])
	}
}

// committed returns the sorted lines of the committed files below dir.
func committed(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// hasAll reports whether lines hold each of from..to-1.
func hasAll(lines []string, from, to int) bool {
	have := map[string]bool{}
	for _, l := range lines {
		have[l] = true
	}
	for i := from; i < to; i++ {
		if !have[fmt.Sprint(i)] {
			return false
		}
	}
	return true
}
