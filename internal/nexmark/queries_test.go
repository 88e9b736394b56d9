package nexmark

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/stream"
)

// testEvents is the stream the query tests run on: 60,000 events at 500 events per second of
// event time, two minutes, so that there are 12 tumbling and 60 sliding windows.
var testEvents = nexmark.Config{Seed: 7, EventsPerSecond: 500}

const testCount = 60_000

// leadEvents lets bids name auctions and auctions name sellers generated up to 10 ids later,
// as Nexmark's own generator does: joins then see inputs whose partner comes later, or never.
var leadEvents = nexmark.Config{Seed: 11, EventsPerSecond: 500, PersonIDLead: 10, AuctionIDLead: 10}

// flatEvents has no hot auctions, sellers or bidders: bids spread over the in-flight auctions,
// so windows have many auctions of similar counts, and ties.
var flatEvents = nexmark.Config{Seed: 3, EventsPerSecond: 500, HotAuctionRatio: 1, HotSellersRatio: 1, HotBiddersRatio: 1}

func generate(t testing.TB, cfg nexmark.Config, n int64) []nexmark.Event {
	t.Helper()
	g, err := nexmark.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := make([]nexmark.Event, n)
	for i := range events {
		events[i] = g.Event(int64(i))
	}
	return events
}

// engines are the job configurations every query runs under: the defaults, and one that
// emits watermarks after every read and sends small batches, so timers fire between records
// and records of different splits interleave finely.
//
// The third keeps state in Pebble (keyed state, window panes and timers, join buffers), at
// parallelism 2 only: the same results from the other backend.
var engines = []struct {
	name   string
	cfg    stream.Config
	pebble bool
}{
	{"default", stream.Config{}, false},
	{"eager", stream.Config{WatermarkInterval: -1, BatchSize: 7}, false},
	{"pebble", stream.Config{WatermarkInterval: -1, BatchSize: 7}, true},
}

// engineFor returns engine e's configuration at parallelism p, and false if e does not run at
// p.
func engineFor(t *testing.T, e int, p int) (stream.Config, bool) {
	cfg := engines[e].cfg
	cfg.Parallelism = p
	if engines[e].pebble {
		if p != 2 {
			return cfg, false
		}
		cfg.StateBackend = pebble.Factory(t.TempDir(), 0)
	}
	return cfg, true
}

// runJob runs q over the generator source bounded to n events of cfg and returns its
// results with their timestamps.
func runJob[T any](t testing.TB, q func(*stream.Env, stream.Stream[nexmark.Event]) stream.Stream[T], cfg nexmark.Config, n int64, engine stream.Config) []stamped[T] {
	t.Helper()
	env := stream.New("test", engine)
	events, _, err := Source(env, SourceOptions{Generator: cfg, Events: n})
	if err != nil {
		t.Fatal(err)
	}
	out := stream.Collect(q(env, events))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
	vals, ts := out.Values(), out.Timestamps()
	res := make([]stamped[T], len(vals))
	for i := range vals {
		res[i] = stamped[T]{ts[i], vals[i]}
	}
	return res
}

// render formats results one per line, sorted, with or without timestamps, for comparison.
func render[T any](rs []stamped[T], withTS bool) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		if withTS {
			out[i] = fmt.Sprintf("%d %+v", r.ts, r.v)
		} else {
			out[i] = fmt.Sprintf("%+v", r.v)
		}
	}
	slices.Sort(out)
	return out
}

// diff reports the first differences between two sorted renderings.
func diff(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("got %d results, want %d", len(got), len(want))
	shown := 0
	for i, j := 0, 0; (i < len(got) || j < len(want)) && shown < 10; shown++ {
		switch {
		case j >= len(want) || (i < len(got) && got[i] < want[j]):
			t.Errorf("unexpected: %s", got[i])
			i++
		case i >= len(got) || want[j] < got[i]:
			t.Errorf("missing:    %s", want[j])
			j++
		default:
			i, j, shown = i+1, j+1, shown-1
		}
	}
}

// checkQuery runs q at several parallelisms and engine configurations and compares its
// results with want, a batch computation over the same events. minResults guards against a
// test that passes because nothing happens.
func checkQuery[T any](t *testing.T, q func(*stream.Env, stream.Stream[nexmark.Event]) stream.Stream[T], ref func([]nexmark.Event) []stamped[T], withTS bool, minResults int, cfgs ...nexmark.Config) {
	if len(cfgs) == 0 {
		cfgs = []nexmark.Config{testEvents}
	}
	for ci, cfg := range cfgs {
		want := render(ref(generate(t, cfg, testCount)), withTS)
		t.Logf("config %d: %d results", ci, len(want))
		if len(want) < minResults {
			t.Fatalf("the reference has only %d results on config %d; want at least %d for a meaningful test", len(want), ci, minResults)
		}
		for _, p := range []int{1, 2, 4} {
			for ei, e := range engines {
				t.Run(fmt.Sprintf("config%d/p%d/%s", ci, p, e.name), func(t *testing.T) {
					engine, ok := engineFor(t, ei, p)
					if !ok {
						t.Skip("this engine runs at another parallelism")
					}
					diff(t, render(runJob(t, q, cfg, testCount, engine), withTS), want)
				})
			}
		}
	}
}

func TestQ0(t *testing.T) { checkQuery(t, Q0, refQ0, true, 50_000) }
func TestQ1(t *testing.T) { checkQuery(t, Q1, refQ1, true, 50_000) }
func TestQ2(t *testing.T) { checkQuery(t, Q2, refQ2, true, 100) }
func TestQ3(t *testing.T) { checkQuery(t, Q3, refQ3, false, 100, testEvents, leadEvents, flatEvents) }
func TestQ5(t *testing.T) { checkQuery(t, Q5, refQ5, true, 60, testEvents, flatEvents) }
func TestQ7(t *testing.T) { checkQuery(t, Q7, refQ7, true, 12, testEvents, flatEvents) }
func TestQ8(t *testing.T) { checkQuery(t, Q8, refQ8, true, 12, testEvents, flatEvents) }

// TestQ4 compares the last average emitted per category with the batch result.
func TestQ4(t *testing.T) {
	for ci, cfg := range []nexmark.Config{testEvents, leadEvents, flatEvents} {
		want := refQ4(generate(t, cfg, testCount))
		t.Logf("config %d: %v", ci, want)
		if len(want) != nexmark.NumCategories {
			t.Fatalf("the reference has averages for %d categories, want %d", len(want), nexmark.NumCategories)
		}
		for _, p := range []int{1, 2, 4} {
			for ei, e := range engines {
				t.Run(fmt.Sprintf("config%d/p%d/%s", ci, p, e.name), func(t *testing.T) {
					engine, ok := engineFor(t, ei, p)
					if !ok {
						t.Skip("this engine runs at another parallelism")
					}
					got := map[int64]int64{}
					for _, r := range runJob(t, Q4, cfg, testCount, engine) {
						got[r.v.Category] = r.v.Avg // one subtask per category: arrival order is emission order
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("final averages per category:\n got  %v\n want %v", got, want)
					}
				})
			}
		}
	}
}
