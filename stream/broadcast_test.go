package stream_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// bcRule sets the minimum value of a category's events; a negative Min removes the rule.
type bcRule struct {
	Category string
	Min      int
	TS       int64
}

type bcEvent struct {
	User     string
	Category string
	Value    int
	TS       int64
}

// bcMatch is an event that passed its category's rule, with the user's running match count.
type bcMatch struct {
	User  string
	TS    int64
	Value int
	N     int
}

func cmpBcMatch(a, b bcMatch) int {
	return cmp.Or(strings.Compare(a.User, b.User), cmp.Compare(a.TS, b.TS), cmp.Compare(a.Value, b.Value), cmp.Compare(a.N, b.N))
}

var bcRules = stream.BroadcastStateDescriptor[string, int]{Name: "rules"}

// bcFilter keeps each user's events in keyed state until the watermark passes them: all rules
// (which carry earlier timestamps) have arrived by then, whatever the interleaving of the
// inputs, so the result does not depend on parallelism.
type bcFilter struct {
	wantRules int
	pending   state.List[bcEvent]
	matches   state.Value[int]
}

func (f *bcFilter) Open(rc *stream.KeyedRuntime[string]) error {
	f.pending = stream.NewListState[bcEvent](rc, state.Descriptor{Name: "pending"})
	f.matches = stream.NewValueState[int](rc, state.Descriptor{Name: "matches"})
	return nil
}

func (f *bcFilter) ProcessBroadcastElement(ctx *stream.BroadcastContext, r bcRule, _ stream.Collector[bcMatch]) error {
	rules := stream.BroadcastStateOf(ctx, bcRules)
	if r.Min < 0 {
		rules.Remove(r.Category)
	} else {
		rules.Put(r.Category, r.Min)
	}
	return nil
}

func (f *bcFilter) ProcessElement(ctx *stream.KeyedBroadcastContext[string], e bcEvent, _ stream.Collector[bcMatch]) error {
	f.pending.Add(e)
	ctx.RegisterEventTimeTimer(e.TS)
	return nil
}

func (f *bcFilter) OnTimer(ctx *stream.KeyedBroadcastContext[string], at int64, out stream.Collector[bcMatch]) error {
	rules := stream.ReadOnlyBroadcastStateOf(ctx, bcRules)
	if rules.Len() != f.wantRules {
		return fmt.Errorf("broadcast state has %d rules at %d, want %d", rules.Len(), at, f.wantRules)
	}
	var keep []bcEvent
	for _, e := range f.pending.Get() {
		if e.TS > at {
			keep = append(keep, e)
			continue
		}
		if lo, ok := rules.Get(e.Category); ok && e.Value >= lo {
			n, _ := f.matches.Value()
			f.matches.Update(n + 1)
			out.Collect(bcMatch{User: ctx.Key(), TS: e.TS, Value: e.Value, N: n + 1})
		}
	}
	f.pending.Update(keep)
	return nil
}

func bcInput(seed uint64) ([]bcRule, []bcEvent) {
	rng := rand.New(rand.NewPCG(seed, 2))
	cats := []string{"a", "b", "c", "d", "e"}
	var rules []bcRule
	for i := range 40 {
		lo := rng.IntN(100)
		if rng.IntN(6) == 0 {
			lo = -1
		}
		rules = append(rules, bcRule{Category: cats[rng.IntN(len(cats))], Min: lo, TS: int64(i)})
	}
	var events []bcEvent
	for i := range 2000 {
		events = append(events, bcEvent{User: fmt.Sprintf("u%d", rng.IntN(13)), Category: cats[rng.IntN(len(cats))],
			Value: rng.IntN(100), TS: int64(1000 + i)})
	}
	coShuffle(rng, events, 8)
	return rules, events
}

func bcBatch(rules []bcRule, events []bcEvent) (map[string]int, []bcMatch) {
	final := map[string]int{}
	for _, r := range rules {
		if r.Min < 0 {
			delete(final, r.Category)
		} else {
			final[r.Category] = r.Min
		}
	}
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b bcEvent) int { return cmp.Compare(a.TS, b.TS) })
	n := map[string]int{}
	var out []bcMatch
	for _, e := range sorted {
		if lo, ok := final[e.Category]; ok && e.Value >= lo {
			n[e.User]++
			out = append(out, bcMatch{User: e.User, TS: e.TS, Value: e.Value, N: n[e.User]})
		}
	}
	slices.SortFunc(out, cmpBcMatch)
	return final, out
}

func TestKeyedBroadcastProcess(t *testing.T) {
	rules, events := bcInput(3)
	final, want := bcBatch(rules, events)
	if len(want) == 0 || len(final) == 0 {
		t.Fatal("the input makes no matches; the test would prove nothing")
	}
	var results [][]bcMatch
	for _, p := range []int{1, 2, 4} {
		env := stream.New("broadcast", stream.Config{Parallelism: p, WatermarkInterval: -1})
		control := stream.FromSlice(env, rules, eventtime.Monotonous(func(r bcRule) int64 { return r.TS })).Parallelism(1)
		main := stream.KeyBy(stream.FromSlice(env, events, eventtime.BoundedOutOfOrderness(10*time.Millisecond, func(e bcEvent) int64 { return e.TS })),
			func(e bcEvent) string { return e.User })
		out := stream.Collect(stream.KeyedBroadcastProcess(stream.ConnectBroadcast(main, control), &bcFilter{wantRules: len(final)}))
		if err := coExecute(t, env); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		got := out.Values()
		for i, ts := range out.Timestamps() {
			if ts != got[i].TS {
				t.Fatalf("p=%d: %+v has timestamp %d", p, got[i], ts)
			}
		}
		slices.SortFunc(got, cmpBcMatch)
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d matches, want %d\n got %v\nwant %v", p, len(got), len(want), got[:min(5, len(got))], want[:min(5, len(want))])
		}
		results = append(results, got)
	}
	for i := 1; i < len(results); i++ {
		if !slices.Equal(results[0], results[i]) {
			t.Fatalf("results differ between parallelism 1 and run %d", i)
		}
	}
}

// bcTagger is a non-keyed broadcast function: every subtask records each rule it receives, and
// tags each event with the number of rules its subtask has seen so far.
type bcTagger struct {
	mu      *sync.Mutex
	seen    map[int][]string // subtask -> categories received
	subtask int
}

func (f *bcTagger) Open(rc *stream.RuntimeContext) error { f.subtask = rc.Subtask(); return nil }

func (f *bcTagger) ProcessBroadcastElement(ctx *stream.BroadcastContext, r bcRule, _ stream.Collector[string]) error {
	stream.BroadcastStateOf(ctx, bcRules).Put(r.Category, r.Min)
	f.mu.Lock()
	f.seen[f.subtask] = append(f.seen[f.subtask], r.Category)
	f.mu.Unlock()
	return nil
}

func (f *bcTagger) ProcessElement(ctx *stream.ReadOnlyBroadcastContext, e bcEvent, out stream.Collector[string]) error {
	rules := stream.ReadOnlyBroadcastStateOf(ctx, bcRules)
	if rules.Len() > 5 {
		return fmt.Errorf("broadcast state has %d rules for 5 categories", rules.Len())
	}
	out.Collect(fmt.Sprintf("%s/%d", e.User, e.TS))
	return nil
}

func TestBroadcastProcessNonKeyed(t *testing.T) {
	rules, events := bcInput(4)
	for _, p := range []int{1, 3} {
		env := stream.New("broadcast-nonkeyed", stream.Config{Parallelism: p, WatermarkInterval: -1})
		control := stream.FromSlice(env, rules, eventtime.Strategy[bcRule]{}).Parallelism(1)
		main := stream.FromSlice(env, events, eventtime.Strategy[bcEvent]{})
		fn := &bcTagger{mu: &sync.Mutex{}, seen: map[int][]string{}}
		out := stream.Collect(stream.BroadcastProcess(stream.ConnectBroadcastNonKeyed(main, control), fn))
		if err := coExecute(t, env); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		if len(out.Values()) != len(events) {
			t.Errorf("p=%d: %d outputs for %d events", p, len(out.Values()), len(events))
		}
		var cats []string
		for _, r := range rules {
			cats = append(cats, r.Category)
		}
		if len(fn.seen) != p {
			t.Fatalf("p=%d: %d subtasks saw rules, want all", p, len(fn.seen))
		}
		for st, got := range fn.seen {
			if !slices.Equal(got, cats) {
				t.Errorf("p=%d: subtask %d saw rules %v, want %v in order", p, st, got, cats)
			}
		}
	}
}

// bcKeyedStateMisuse reads keyed state from ProcessBroadcastElement, where there is no key.
type bcKeyedStateMisuse struct {
	count state.Value[int]
}

func (f *bcKeyedStateMisuse) Open(rc *stream.KeyedRuntime[string]) error {
	f.count = stream.NewValueState[int](rc, state.Descriptor{Name: "count"})
	return nil
}

func (f *bcKeyedStateMisuse) ProcessBroadcastElement(_ *stream.BroadcastContext, _ bcRule, _ stream.Collector[int]) error {
	f.count.Update(1)
	return nil
}

func (f *bcKeyedStateMisuse) ProcessElement(_ *stream.KeyedBroadcastContext[string], _ bcEvent, _ stream.Collector[int]) error {
	f.count.Update(2)
	return nil
}

func TestBroadcastKeyedStateWithoutKeyFails(t *testing.T) {
	env := stream.New("broadcast-misuse", stream.Config{Parallelism: 2, WatermarkInterval: -1})
	control := stream.FromSlice(env, []bcRule{{Category: "x", Min: 1}}, eventtime.Strategy[bcRule]{})
	main := stream.KeyBy(stream.FromSlice(env, []bcEvent{{User: "u"}}, eventtime.Strategy[bcEvent]{}), func(e bcEvent) string { return e.User })
	stream.KeyedBroadcastProcess(stream.ConnectBroadcast(main, control), &bcKeyedStateMisuse{}).Name("Misuse").Discard()
	err := coExecute(t, env)
	var oe *stream.OperatorError
	if !errors.As(err, &oe) || oe.Operator != "Misuse" || !strings.Contains(oe.Record, "Category:x") {
		t.Fatalf("got %v, want the job to fail in Misuse naming the rule", err)
	}
}
