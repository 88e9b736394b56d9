package nexmark

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
)

func TestLookup(t *testing.T) {
	for _, name := range []string{"q5", "Q5", "5"} {
		if q, err := Lookup(name); err != nil || q.Name != "q5" {
			t.Errorf("Lookup(%q) = %q, %v", name, q.Name, err)
		}
	}
	_, err := Lookup("q6")
	if err == nil || !strings.Contains(err.Error(), "q0, q1, q2, q3, q4, q5, q7, q8") {
		t.Errorf("Lookup(q6): %v, want an error listing the queries", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Query: "q0", Events: 1}, ""},
		{Options{Query: "q9", Events: 1}, "unknown query"},
		{Options{Query: "q0"}, "event count 0 must be positive"},
		{Options{Query: "q0", Events: 1, Parallelism: -1}, "negative parallelism"},
		{Options{Query: "q0", Events: 1, Rate: math.NaN()}, "rate NaN out of range"},
		{Options{Query: "q0", Events: 1, Rate: math.Inf(1)}, "out of range"},
		{Options{Query: "q0", Events: 1, Rate: 1e9}, ""},
		{Options{Query: "q0", Events: 1, Generator: nexmark.Config{NumActivePeople: -1}}, "NumActivePeople"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.o, err, tt.want)
		}
	}
}

// TestRunOutput checks that every query runs, that the output is one JSON object per result
// with the query's column names, and that the counts add up.
func TestRunOutput(t *testing.T) {
	columns := map[string][]string{
		"q0": {"auction", "bidder", "dateTime", "extra", "price"},
		"q1": {"auction", "bidder", "dateTime", "extra", "price"},
		"q2": {"auction", "price"},
		"q3": {"city", "id", "name", "state"},
		"q4": {"avg", "category"},
		"q5": {"auction", "num"},
		"q7": {"auction", "bidder", "dateTime", "extra", "price"},
		"q8": {"id", "name", "starttime"},
	}
	for _, q := range Queries() {
		t.Run(q.Name, func(t *testing.T) {
			var out bytes.Buffer
			var mu sync.Mutex
			var last Progress
			r, err := Run(context.Background(), Options{Query: q.Name, Events: 30_000, Parallelism: 2,
				Generator: nexmark.Config{EventsPerSecond: 500}, Output: &out,
				Progress: func(p Progress) { mu.Lock(); last = p; mu.Unlock() }, ProgressInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Query != q.Name || r.Events != 30_000 || r.Parallelism != 2 || r.Results == 0 || r.WallSeconds <= 0 || r.EventsPerSecond <= 0 {
				t.Errorf("result %+v", r)
			}
			if r.LatencyP50Ms != nil {
				t.Errorf("latency measured without a rate: %+v", r)
			}
			mu.Lock()
			if last.Events != 30_000 {
				t.Errorf("last progress report: %+v, want 30000 events", last)
			}
			mu.Unlock()
			sc := bufio.NewScanner(&out)
			lines := int64(0)
			for sc.Scan() {
				lines++
				var m map[string]any
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatalf("line %d: %v: %s", lines, err, sc.Bytes())
				}
				var keys []string
				for k := range m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !slices.Equal(keys, columns[q.Name]) {
					t.Fatalf("line %d has columns %v, want %v", lines, keys, columns[q.Name])
				}
			}
			if lines != r.Results {
				t.Errorf("%d lines of output, %d results", lines, r.Results)
			}
		})
	}
}

func TestRunLatency(t *testing.T) {
	// 4,000 events at 20,000 a second: 0.2 s of wall clock and of event time.
	r, err := Run(context.Background(), Options{Query: "q0", Events: 4000, Rate: 20_000, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.WallSeconds < 0.15 {
		t.Errorf("wall time %.3fs: the rate did not hold the source back", r.WallSeconds)
	}
	if r.LatencyP50Ms == nil || r.LatencyP99Ms == nil || r.LatencyMaxMs == nil {
		t.Fatalf("no latency measured: %+v", r)
	}
	if p50, p99, hi := *r.LatencyP50Ms, *r.LatencyP99Ms, *r.LatencyMaxMs; p50 < 0 || p50 > p99 || p99 > hi || hi > 5000 {
		t.Errorf("latency p50 %.3f p99 %.3f max %.3f ms", p50, p99, hi)
	}
	if r.LatencySamples != r.Results {
		t.Errorf("%d latency samples of %d results", r.LatencySamples, r.Results)
	}

	// 0.2 s of input is less than one 10 s window: only the end of input closes it, and that
	// says nothing about latency.
	r, err = Run(context.Background(), Options{Query: "q7", Events: 4000, Rate: 20_000, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Results == 0 || r.LatencySamples != 0 || r.LatencyP50Ms != nil {
		t.Errorf("q7 over less than a window: %d results, %d latency samples, p50 %v", r.Results, r.LatencySamples, r.LatencyP50Ms)
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Options{Query: "q5", Events: 1 << 40, Rate: 1000})
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Run with a cancelled context: %v", err)
	}
}

func TestDumpEvents(t *testing.T) {
	cfg := nexmark.Config{Seed: 5}
	var buf bytes.Buffer
	if err := DumpEvents(context.Background(), &buf, cfg, 120); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 120 {
		t.Fatalf("%d lines, want 120", len(lines))
	}
	for i, e := range generate(t, cfg, 120) {
		if want := string(nexmark.AppendJSON(nil, &e)); lines[i] != want {
			t.Fatalf("line %d:\n got  %s\n want %s", i, lines[i], want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tt.q)
		if rel := math.Abs(float64(got-tt.want)) / float64(tt.want); rel > 0.03 {
			t.Errorf("quantile(%v) = %v, want %v within 3%%", tt.q, got, tt.want)
		}
	}
	var o histogram
	o.record(-time.Second)
	o.record(3 * time.Microsecond)
	h.merge(&o)
	if h.total != 1002 || h.quantile(1.0/1002) != 0 || h.max != time.Second {
		t.Errorf("after merge: total %d, smallest %v, max %v", h.total, h.quantile(1.0/1002), h.max)
	}
	for us := uint64(0); us < 1<<20; us += 997 {
		if mid := bucketMid(bucketOf(us)); math.Abs(mid-float64(us)) > 0.02*float64(us)+1 {
			t.Fatalf("bucket of %dµs has middle %.1fµs", us, mid)
		}
	}
}

func TestDecimal(t *testing.T) {
	for _, tt := range []struct {
		d    Decimal
		want string
	}{{0, "0.000"}, {1, "0.001"}, {908, "0.908"}, {123_456, "123.456"}, {-1500, "-1.500"}} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Decimal(%d) = %s, want %s", int64(tt.d), got, tt.want)
		}
		b, err := json.Marshal(Q1Result{Price: tt.d})
		if err != nil || !strings.Contains(string(b), fmt.Sprintf(`"price":%s,`, tt.want)) {
			t.Errorf("JSON of %s: %s, %v", tt.want, b, err)
		}
	}
}
