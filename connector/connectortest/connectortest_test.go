package connectortest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/connectortest"
	"github.com/runnel-io/runnel/connector/datagen"
)

// TestSourceSuite runs the source suite on datagen's slice source, the simplest correct source.
func TestSourceSuite(t *testing.T) {
	vals := make([]int, 100)
	want := make([]string, len(vals))
	for i := range vals {
		vals[i], want[i] = i, strconv.Itoa(i)
	}
	connectortest.Source(t, connectortest.SourceHarness[int]{
		Setup: func(*testing.T) connectortest.SourceFixture[int] {
			return connectortest.SourceFixture[int]{Want: want, New: func() connector.Source[int] { return datagen.Slice(vals) }}
		},
		Key: strconv.Itoa,
	})
}

// store is an external system in memory: committed records, and the committable ids applied.
type store struct {
	mu        sync.Mutex
	visible   []int
	committed map[string]bool
	aborted   map[string]bool
}

// memSink is a two-phase-commit sink into a store: a committable carries its records.
type memSink struct{ s *store }

type pending struct {
	ID   string `json:"id"`
	Vals []int  `json:"vals"`
}

func (m memSink) NewWriter(_ context.Context, sc connector.SinkContext) (connector.Writer[int], error) {
	return &memWriter{name: fmt.Sprintf("%d-%d", sc.Subtask, sc.Attempt)}, nil
}

func (m memSink) NewCommitter(context.Context) (connector.Committer, error) {
	return memCommitter(m), nil
}

type memWriter struct {
	name string
	n    int
	buf  []int
}

func (w *memWriter) Write(_ context.Context, v int, _ int64) error {
	w.buf = append(w.buf, v)
	return nil
}

func (w *memWriter) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	if len(w.buf) == 0 {
		return nil, nil
	}
	w.n++
	b, err := json.Marshal(pending{ID: fmt.Sprintf("%s-%d", w.name, w.n), Vals: w.buf})
	w.buf = nil
	return []connector.Committable{b}, err
}

func (w *memWriter) Close() error { return nil }

type memCommitter memSink

func (c memCommitter) apply(cs []connector.Committable, commit bool) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, b := range cs {
		var p pending
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		switch {
		case !commit:
			c.s.aborted[p.ID] = true
		case c.s.committed[p.ID] || c.s.aborted[p.ID]:
		default:
			c.s.committed[p.ID] = true
			c.s.visible = append(c.s.visible, p.Vals...)
		}
	}
	return nil
}

func (c memCommitter) Commit(_ context.Context, cs []connector.Committable) error {
	return c.apply(cs, true)
}
func (c memCommitter) Abort(_ context.Context, cs []connector.Committable) error {
	return c.apply(cs, false)
}
func (memCommitter) Close() error { return nil }

// TestSinkSuite runs the sink suite on a correct two-phase-commit sink held in memory.
func TestSinkSuite(t *testing.T) {
	connectortest.Sink(t, connectortest.SinkHarness[int]{
		Setup: func(*testing.T) connectortest.SinkFixture[int] {
			s := &store{committed: map[string]bool{}, aborted: map[string]bool{}}
			return connectortest.SinkFixture[int]{
				New: func() connector.Sink[int] { return memSink{s} },
				Visible: func(*testing.T) []string {
					s.mu.Lock()
					defer s.mu.Unlock()
					out := make([]string, len(s.visible))
					for i, v := range s.visible {
						out[i] = strconv.Itoa(v)
					}
					return out
				},
			}
		},
		Record:      func(i int) int { return i },
		Key:         strconv.Itoa,
		ExactlyOnce: true,
	})
}
