package stream_test

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

type printed struct {
	Page  string  `json:"page"`
	Views int64   `json:"views"`
	Share float64 `json:"share"`
}

// syncWriter is a bytes.Buffer safe for the print sink's subtasks.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestPrintTo checks that records print as JSON lines after the prefix, with no subtask
// prefix at any parallelism, and that a record JSON cannot hold prints as a string.
func TestPrintTo(t *testing.T) {
	in := []printed{{"/a", 3, 0.5}, {"/b<c>", 1, 0.25}, {"/nan", 0, math.NaN()}}
	var out syncWriter
	env := stream.New("print", stream.Config{Parallelism: 3})
	stream.FromSlice(env, in, eventtime.Monotonous(func(printed) int64 { return 0 })).Rebalance().PrintTo(&out, "views ")
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.b.String(), "\n"), "\n")
	slices.Sort(lines)
	want := []string{
		`views "{Page:/nan Views:0 Share:NaN}"`,
		`views {"page":"/a","views":3,"share":0.5}`,
		`views {"page":"/b<c>","views":1,"share":0.25}`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("printed\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
