package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/restart"
	"github.com/runnel-io/runnel/stream"
)

// ledgerSink is a two-phase-commit sink whose committables carry the records they cover; its
// committer keeps a ledger of what was committed and what aborted.
type ledgerSink struct {
	mu        sync.Mutex
	committed map[string][]int64 // committable name -> records
	aborted   map[string]bool
}

type ledgerCommittable struct {
	Name    string
	Records []int64
}

func (s *ledgerSink) NewWriter(_ context.Context, sc connector.SinkContext) (connector.Writer[int64], error) {
	return &ledgerWriter{sc: sc}, nil
}

func (s *ledgerSink) NewCommitter(context.Context) (connector.Committer, error) {
	return ledgerCommitter{s}, nil
}

type ledgerWriter struct {
	sc  connector.SinkContext
	buf []int64
}

func (w *ledgerWriter) Write(_ context.Context, v int64, _ int64) error {
	w.buf = append(w.buf, v)
	return nil
}

func (w *ledgerWriter) PreCommit(_ context.Context, id int64) ([]connector.Committable, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	b, _ := json.Marshal(ledgerCommittable{Name: fmt.Sprintf("subtask%d-attempt%d-chk%d", w.sc.Subtask, w.sc.Attempt, id), Records: w.buf})
	w.buf = nil
	return []connector.Committable{b}, nil
}

func (w *ledgerWriter) Close() error { return nil }

type ledgerCommitter struct{ s *ledgerSink }

func (c ledgerCommitter) Commit(_ context.Context, cs []connector.Committable) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, b := range cs {
		var lc ledgerCommittable
		if err := json.Unmarshal(b, &lc); err != nil {
			return err
		}
		if c.s.aborted[lc.Name] {
			return fmt.Errorf("commit of %s, which was aborted", lc.Name)
		}
		c.s.committed[lc.Name] = lc.Records
	}
	return nil
}

func (c ledgerCommitter) Abort(_ context.Context, cs []connector.Committable) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, b := range cs {
		var lc ledgerCommittable
		if err := json.Unmarshal(b, &lc); err != nil {
			return err
		}
		if _, ok := c.s.committed[lc.Name]; ok {
			return fmt.Errorf("abort of %s, which was committed", lc.Name)
		}
		c.s.aborted[lc.Name] = true
	}
	return nil
}

func (c ledgerCommitter) Close() error { return nil }

// TestSinkAbortsWhatNoCheckpointRecorded checks that the engine calls Committer.Abort as the
// contract says: when a job restarts from its latest checkpoint, what a sink pre-committed at
// a checkpoint that failed (here its metadata could not be written) is aborted, never
// committed, while the output stays exactly once.
func TestSinkAbortsWhatNoCheckpointRecorded(t *testing.T) {
	const n = 20000
	mem := checkpointtest.NewMem()
	failed := false
	var failMu sync.Mutex
	mem.InjectFault(func(op, name string) error {
		failMu.Lock()
		defer failMu.Unlock()
		if op == "close" && name == "chk-3/_metadata" && !failed {
			failed = true
			return errors.New("injected: the disk is full")
		}
		return nil
	})
	sink := &ledgerSink{committed: map[string][]int64{}, aborted: map[string]bool{}}
	cfg := stream.Config{Parallelism: 2, Checkpoints: stream.Checkpoints{
		Storage: mem, Interval: 2 * time.Millisecond, Restart: restart.FixedDelay(3, 0),
	}}
	env := stream.New("aborts", cfg)
	src := stream.FromSource[int64](env, rangeSource{n: n, splits: 2, perRead: 16, paced: true},
		eventtime.Monotonous(func(v int64) int64 { return v })).Uid("numbers")
	src.SinkTo(sink).Uid("sink")
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Fatal("checkpoint 3 was never finalized: the test injected nothing")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var aborted3 bool
	for name := range sink.aborted {
		if strings.HasSuffix(name, "-attempt0-chk3") {
			aborted3 = true
		}
	}
	if !aborted3 {
		t.Errorf("aborted %v; want checkpoint 3's pre-commits of attempt 0 among them", slices.Sorted(maps.Keys(sink.aborted)))
	}
	seen := map[int64]int{}
	for _, recs := range sink.committed {
		for _, v := range recs {
			seen[v]++
		}
	}
	for v := range int64(n) {
		if seen[v] != 1 {
			t.Fatalf("record %d committed %d times", v, seen[v])
		}
	}
	t.Logf("%d committables committed, %d aborted", len(sink.committed), len(sink.aborted))
}
