package stream_test

// Tests of keyed operators: timers in both time domains, keyed state through the API, and
// keyed results that do not depend on parallelism. Helpers are prefixed kt.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// ktCmd is a record telling ktTimers what to do for its key: register and delete timers.
type ktCmd struct {
	Key string
	TS  int64
	Reg []int64
	Del []int64
}

// ktTimers logs records and timer firings, with the watermark (event time) or the clock
// (processing time) at that moment, to a channel.
type ktTimers struct {
	domain stream.TimeDomain
	log    chan<- string
}

func ktWM(wm int64) string {
	if wm == eventtime.MinTime || wm == eventtime.MaxTime {
		return eventtime.Format(wm)
	}
	return fmt.Sprint(wm)
}

func (f *ktTimers) ProcessElement(ctx *stream.KeyedContext[string], v ktCmd, _ stream.Collector[string]) error {
	for _, at := range v.Reg {
		if f.domain == stream.EventTime {
			ctx.RegisterEventTimeTimer(at)
		} else {
			ctx.RegisterProcessingTimeTimer(at)
		}
	}
	for _, at := range v.Del {
		if f.domain == stream.EventTime {
			ctx.DeleteEventTimeTimer(at)
		} else {
			ctx.DeleteProcessingTimeTimer(at)
		}
	}
	f.log <- fmt.Sprintf("rec %s@%d wm=%s", v.Key, v.TS, ktWM(ctx.CurrentWatermark()))
	return nil
}

func (f *ktTimers) OnTimer(ctx *stream.KeyedContext[string], at int64, out stream.Collector[string]) error {
	if ctx.TimeDomain() != f.domain || ctx.Timestamp() != at {
		return fmt.Errorf("timer %d: domain %v, timestamp %d", at, ctx.TimeDomain(), ctx.Timestamp())
	}
	if f.domain == stream.ProcessingTime {
		now := ctx.CurrentProcessingTime()
		if now < at {
			return fmt.Errorf("processing-time timer %d fired early, at %d", at, now)
		}
		f.log <- fmt.Sprintf("timer %s@%d", ctx.Key(), at)
		return nil
	}
	if ctx.Key() == "d" && at == 250 {
		ctx.RegisterEventTimeTimer(at + 10) // a timer registering a timer that is already due
	}
	f.log <- fmt.Sprintf("timer %s@%d wm=%s", ctx.Key(), at, ktWM(ctx.CurrentWatermark()))
	return nil
}

// TestEventTimeTimers checks that event-time timers fire when the watermark passes them, in
// timestamp order, once per key and time, and not at all once deleted.
func TestEventTimeTimers(t *testing.T) {
	cmds := []ktCmd{
		{Key: "a", TS: 10, Reg: []int64{100, 50, 100}}, // a@100 registered twice: fires once
		{Key: "b", TS: 20, Reg: []int64{50, 70}},       // b@50: same time as a@50, another key
		{Key: "a", TS: 30, Reg: []int64{60}, Del: []int64{50}},
		{Key: "c", TS: 40, Reg: []int64{45}},
		{Key: "b", TS: 200, Del: []int64{70}}, // deleted before the watermark reached it
		{Key: "d", TS: 300, Reg: []int64{250}},
		{Key: "e", TS: 400, Reg: []int64{5, 450}}, // e@5 already behind the watermark: fires at the next one
	}
	want := []string{
		"rec a@10 wm=-inf",
		"rec b@20 wm=9",
		"rec a@30 wm=19",
		"rec c@40 wm=29",
		"rec b@200 wm=39",
		"timer c@45 wm=199",
		"timer b@50 wm=199",
		"timer a@60 wm=199",
		"timer a@100 wm=199",
		"rec d@300 wm=199",
		"timer d@250 wm=299",
		"timer d@260 wm=299",
		"rec e@400 wm=299",
		// The last record and the end of input come in one read: the watermark the data
		// reached comes before MaxTime, and only the timer past it fires at MaxTime.
		"timer e@5 wm=399",
		"timer e@450 wm=+inf",
	}
	// One record per read, so the source emits a watermark after every record.
	src, err := datagen.New(func(n int64) ktCmd { return cmds[n] }, datagen.Config{Count: int64(len(cmds)), BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("event-time timers", stream.Config{Parallelism: 1, WatermarkInterval: -1})
	log := make(chan string, 100)
	in := stream.FromSource(env, src, eventtime.Monotonous(func(c ktCmd) int64 { return c.TS }))
	stream.KeyedProcess[ktCmd, string, string](stream.KeyBy(in, func(c ktCmd) string { return c.Key }), &ktTimers{domain: stream.EventTime, log: log}).Discard()
	if err := env.Execute(rtCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(log)
	got := slices.Collect(func(yield func(string) bool) {
		for s := range log {
			if !yield(s) {
				return
			}
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// ktDue is an event-time timer that fired and the watermark it fired at.
type ktDue struct{ At, WM int64 }

// ktAfter registers an event-time timer a fixed time after every record and reports, for each
// firing, the watermark it fired at.
type ktAfter struct{ after int64 }

func (f *ktAfter) ProcessElement(ctx *stream.KeyedContext[string], v ktCmd, _ stream.Collector[ktDue]) error {
	ctx.RegisterEventTimeTimer(v.TS + f.after)
	return nil
}

func (f *ktAfter) OnTimer(ctx *stream.KeyedContext[string], at int64, out stream.Collector[ktDue]) error {
	out.Collect(ktDue{At: at, WM: ctx.CurrentWatermark()})
	return nil
}

// TestEndOfInputFiresTimersWithinTheDataFirst reads a bounded input within one watermark
// interval (the fake clock never lets one pass), so no periodic watermark is emitted. Event-time
// timers due within the data must still fire at a real watermark, at most the one the data
// reached (largest timestamp - 1 for a monotonous source), and only the timers past that at
// MaxTime: a function can then tell a timeout within the data from the end of input, whatever
// the pace of reading. At parallelism above 1 each reader reads a contiguous part of the input,
// so the readers end at different event times and in no fixed order; the keyed operator must
// still see the watermark the whole input reached before MaxTime.
func TestEndOfInputFiresTimersWithinTheDataFirst(t *testing.T) {
	const n, step, after = 200, 10, 15
	reached := int64((n-1)*step - 1)
	var cmds []ktCmd
	for i := range int64(n) {
		cmds = append(cmds, ktCmd{Key: fmt.Sprintf("k%d", i%5), TS: i * step})
	}
	for _, p := range []int{1, 2, 4} {
		env := stream.New("end of input", stream.Config{Parallelism: p, Clock: clockwork.NewFakeClock()})
		in := stream.FromSlice(env, cmds, eventtime.Monotonous(func(c ktCmd) int64 { return c.TS }))
		fired := stream.Collect(stream.KeyedProcess[ktCmd, string, ktDue](stream.KeyBy(in, func(c ktCmd) string { return c.Key }), &ktAfter{after: after}))
		if err := env.Execute(rtCtx(t)); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		got := fired.Values()
		if len(got) != n {
			t.Fatalf("p=%d: %d timers fired, want %d", p, len(got), n)
		}
		within := 0
		for _, d := range got {
			switch {
			case d.At <= reached && (d.WM < d.At || d.WM > reached):
				t.Errorf("p=%d: timer %d, due within the data, fired at watermark %s, want one in [%d, %d]", p, d.At, ktWM(d.WM), d.At, reached)
			case d.At > reached && d.WM != eventtime.MaxTime:
				t.Errorf("p=%d: timer %d, due after the data, fired at watermark %s, want +inf", p, d.At, ktWM(d.WM))
			case d.At <= reached:
				within++
			}
		}
		if want := int((reached-after)/step) + 1; within != want {
			t.Errorf("p=%d: %d timers fired within the data, want %d", p, within, want)
		}
	}
}

// TestProcessingTimeTimers drives processing time with a fake clock: timers fire when the
// clock reaches them, in order, once per key and time, not when deleted, and at once when
// registered in the past.
func TestProcessingTimeTimers(t *testing.T) {
	ctx := rtCtx(t)
	const t0 = 1_767_225_600_000
	clock := clockwork.NewFakeClockAt(time.UnixMilli(t0))
	env := stream.New("processing-time timers", stream.Config{Parallelism: 1, Clock: clock})
	feed := rtNewFeed[ktCmd]("cmds")
	log := make(chan string, 100)
	stream.KeyedProcess[ktCmd, string, string](stream.KeyBy(stream.FromSource(env, feed, eventtime.Strategy[ktCmd]{}), func(c ktCmd) string { return c.Key }),
		&ktTimers{domain: stream.ProcessingTime, log: log}).Discard()
	done := rtStart(ctx, env)

	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			if got := rtWait(t, ctx, log, done, w); got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		}
	}
	send := func(c ktCmd) {
		t.Helper()
		feed.push("cmds", c)
		expect(fmt.Sprintf("rec %s@0 wm=-inf", c.Key))
	}
	// The clock's waiters: the flush tickers of the source and the keyed task, and the timer
	// the keyed task arms for its earliest processing-time timer.
	advance := func(d time.Duration) {
		t.Helper()
		if err := clock.BlockUntilContext(ctx, 3); err != nil {
			t.Fatalf("no processing-time timer armed: %v", err)
		}
		clock.Advance(d)
	}

	send(ktCmd{Key: "a", Reg: []int64{t0 + 1000, t0 + 500, t0 + 1000}})
	send(ktCmd{Key: "b", Reg: []int64{t0 + 500, t0 + 700}})
	send(ktCmd{Key: "a", Del: []int64{t0 + 500}})
	advance(499 * time.Millisecond)
	send(ktCmd{Key: "probe"}) // nothing is due yet: the next firing is b@500
	advance(time.Millisecond)
	expect(fmt.Sprintf("timer b@%d", t0+500))
	send(ktCmd{Key: "b", Del: []int64{t0 + 700}})
	advance(200 * time.Millisecond) // b@700 was deleted: nothing fires
	send(ktCmd{Key: "probe"})
	advance(300 * time.Millisecond)
	expect(fmt.Sprintf("timer a@%d", t0+1000)) // once, although registered twice
	send(ktCmd{Key: "c", Reg: []int64{t0 + 2000, t0 + 1500, t0}})
	expect(fmt.Sprintf("timer c@%d", t0)) // in the past: fires at once
	advance(time.Second)
	expect(fmt.Sprintf("timer c@%d", t0+1500), fmt.Sprintf("timer c@%d", t0+2000))
	feed.end("cmds")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(log)
	for s := range log {
		t.Errorf("unexpected after the end: %s", s)
	}
}

// ktSession keeps a value with a TTL per key and reports what a "get" finds.
type ktSession struct {
	v state.Value[string]
}

func (f *ktSession) Open(rc *stream.KeyedRuntime[string]) error {
	f.v = stream.NewValueState[string](rc, state.Descriptor{Name: "session", TTL: state.TTL{Duration: 10 * time.Second}})
	return nil
}

func (f *ktSession) ProcessElement(ctx *stream.KeyedContext[string], v rtRec, out stream.Collector[string]) error {
	if v.Src == "set" {
		f.v.Update(fmt.Sprint(v.TS))
		return nil
	}
	got, ok := f.v.Value()
	out.Collect(fmt.Sprintf("%s=%s,%v", ctx.Key(), got, ok))
	return nil
}

// TestKeyedStateTTLUsesJobClock sets keyed state with a TTL and reads it back before and after
// the job's (fake) clock passes the TTL: state TTL follows the job's processing time.
func TestKeyedStateTTLUsesJobClock(t *testing.T) {
	ctx := rtCtx(t)
	clock := clockwork.NewFakeClock()
	env := stream.New("ttl", stream.Config{Parallelism: 2, Clock: clock})
	feed := rtNewFeed[rtRec]("cmds")
	out := make(chan string, 10)
	k := stream.KeyBy(stream.FromSource(env, feed, eventtime.Strategy[rtRec]{}), func(r rtRec) string { return fmt.Sprint("key", r.TS%2) })
	stream.KeyedProcess[rtRec, string, string](k, &ktSession{}).SinkTo(rtFuncSink[string](func(_ context.Context, s string) error {
		out <- s
		return nil
	}))
	done := rtStart(ctx, env)
	feed.push("cmds", rtRec{"set", 10}, rtRec{"set", 11}, rtRec{"get", 0}, rtRec{"get", 1})
	got := []string{rtWait(t, ctx, out, done, "a get"), rtWait(t, ctx, out, done, "a get")}
	slices.Sort(got)
	if want := []string{"key0=10,true", "key1=11,true"}; !slices.Equal(got, want) {
		t.Fatalf("before the TTL: got %v, want %v", got, want)
	}
	clock.Advance(9 * time.Second)
	feed.push("cmds", rtRec{"set", 13}, rtRec{"get", 3})
	if got := rtWait(t, ctx, out, done, "a get"); got != "key1=13,true" {
		t.Fatalf("after rewriting key1: got %q", got)
	}
	clock.Advance(time.Second) // key0 was written 10s ago, key1 1s ago
	feed.push("cmds", rtRec{"get", 0}, rtRec{"get", 1})
	got = []string{rtWait(t, ctx, out, done, "a get"), rtWait(t, ctx, out, done, "a get")}
	slices.Sort(got)
	if want := []string{"key0=,false", "key1=13,true"}; !slices.Equal(got, want) {
		t.Fatalf("after 10s: got %v, want %v", got, want)
	}
	feed.end("cmds")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// ktSum is a keyed running sum.
type ktSum struct {
	Key, N int64
}

// TestKeyedResultsIndependentOfParallelism runs keyed Reduce and Aggregate at parallelism 1,
// 2 and 4 and checks that every key gets the same sequence of results: keyed state is per key,
// and records of one key keep their order.
func TestKeyedResultsIndependentOfParallelism(t *testing.T) {
	const n, keys = 6000, 37
	count := state.AggregateFunction[ktSum, [2]int64, string]{
		Create: func() [2]int64 { return [2]int64{} },
		Add:    func(acc [2]int64, v ktSum) [2]int64 { return [2]int64{v.Key, acc[1] + 1} },
		Result: func(acc [2]int64) string { return fmt.Sprintf("%d:%d", acc[0], acc[1]) },
	}
	run := func(p int) (map[int64][]int64, map[string]bool) {
		src, err := datagen.New(func(i int64) ktSum { return ktSum{Key: i * 7919 % keys, N: i} }, datagen.Config{Count: n})
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("keyed", stream.Config{Parallelism: p})
		in := stream.FromSource(env, src, eventtime.Strategy[ktSum]{}).Parallelism(1) // one order per key
		k := stream.KeyBy(in, func(s ktSum) int64 { return s.Key })
		sums := stream.Collect(stream.Reduce(k, func(a, b ktSum) ktSum { return ktSum{a.Key, a.N + b.N} }))
		counts := stream.Collect(stream.Aggregate(k, count))
		if err := env.Execute(rtCtx(t)); err != nil {
			t.Fatal(err)
		}
		byKey := map[int64][]int64{}
		for _, s := range sums.Values() {
			byKey[s.Key] = append(byKey[s.Key], s.N)
		}
		seen := map[string]bool{}
		for _, c := range counts.Values() {
			if seen[c] {
				t.Fatalf("p=%d: count %s emitted twice", p, c)
			}
			seen[c] = true
		}
		return byKey, seen
	}
	want, wantCounts := run(1)
	if len(want) != keys || len(wantCounts) != n {
		t.Fatalf("p=1: %d keys and %d counts, want %d and %d", len(want), len(wantCounts), keys, n)
	}
	total := int64(0)
	for _, sums := range want {
		total += sums[len(sums)-1]
	}
	if total != n*(n-1)/2 {
		t.Fatalf("p=1: final sums add up to %d, want %d", total, n*(n-1)/2)
	}
	for _, p := range []int{2, 4} {
		got, gotCounts := run(p)
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("p=%d: running sums differ from p=1", p)
		}
		if !maps.Equal(gotCounts, wantCounts) {
			t.Errorf("p=%d: running counts differ from p=1", p)
		}
	}
}
