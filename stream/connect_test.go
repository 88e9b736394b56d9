package stream_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
)

// execute runs env's job with a generous deadline, so that a hang fails the test instead of
// stalling the run.
func coExecute(t *testing.T, env *stream.Env) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return env.Execute(ctx)
}

// coShuffle shuffles vals in place within consecutive blocks of size block, so that a record
// arrives at most block-1 positions away from its sorted place.
func coShuffle[T any](rng *rand.Rand, vals []T, block int) {
	for i := 0; i < len(vals); i += block {
		b := vals[i:min(i+block, len(vals))]
		rng.Shuffle(len(b), func(x, y int) { b[x], b[y] = b[y], b[x] })
	}
}

type coOpenCount struct {
	opens, closes *atomic.Int64
	subtask       int
}

func (f *coOpenCount) Open(rc *stream.RuntimeContext) error {
	f.opens.Add(1)
	f.subtask = rc.Subtask()
	return nil
}

func (f *coOpenCount) Close() error { f.closes.Add(1); return nil }

func (f *coOpenCount) ProcessElement1(ctx *stream.Context, v int, out stream.Collector[string]) error {
	out.Collect(fmt.Sprintf("i%d@%d", v, ctx.Timestamp()))
	return nil
}

func (f *coOpenCount) ProcessElement2(ctx *stream.Context, v string, out stream.Collector[string]) error {
	out.Collect(fmt.Sprintf("s%s@%d", v, ctx.Timestamp()))
	return nil
}

func TestCoProcess(t *testing.T) {
	for _, p := range []int{1, 2, 4} {
		env := stream.New("coprocess", stream.Config{Parallelism: p, WatermarkInterval: -1})
		var ints []int
		var strs []string
		for i := range 700 {
			ints = append(ints, i)
		}
		for i := range 300 {
			strs = append(strs, fmt.Sprint(i))
		}
		a := stream.FromSlice(env, ints, eventtime.Monotonous(func(v int) int64 { return int64(v) }))
		b := stream.FromSlice(env, strs, eventtime.Monotonous(func(v string) int64 {
			var n int64
			fmt.Sscan(v, &n)
			return 2 * n
		}))
		var opens, closes atomic.Int64
		out := stream.Collect(stream.CoProcess(stream.Connect(a, b), &coOpenCount{opens: &opens, closes: &closes}))
		if err := coExecute(t, env); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		var want []string
		for _, v := range ints {
			want = append(want, fmt.Sprintf("i%d@%d", v, v))
		}
		for i, v := range strs {
			want = append(want, fmt.Sprintf("s%s@%d", v, 2*i))
		}
		got := out.Values()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d records, want %d; first got %v", p, len(got), len(want), got[:min(5, len(got))])
		}
		if opens.Load() != int64(p) || closes.Load() != int64(p) {
			t.Errorf("p=%d: %d opens and %d closes, want %d each", p, opens.Load(), closes.Load(), p)
		}
	}
}

// coOrder and coPay are the two inputs of the keyed co-process test.
type coOrder struct {
	Key    string
	TS     int64
	Amount int64
}

type coPay struct {
	Key  string
	TS   int64
	Paid int64
}

// coReport says, for a key and a time, the totals of the orders and payments up to that time.
type coReport struct {
	Key          string
	At           int64
	Orders, Paid int64
}

func cmpCoReport(a, b coReport) int {
	return cmp.Or(strings.Compare(a.Key, b.Key), cmp.Compare(a.At, b.At), cmp.Compare(a.Orders, b.Orders), cmp.Compare(a.Paid, b.Paid))
}

const coTimerDelay = 5

// coBalance keeps each key's orders and payments in keyed state and, 5ms of event time after
// each record, reports the totals of the records up to then. It relies on the timers firing
// only once the watermark of both inputs has passed them.
type coBalance struct {
	orders, pays state.List[coOrder]
	timers       state.Value[int]
}

func (f *coBalance) Open(rc *stream.KeyedRuntime[string]) error {
	f.orders = stream.NewListState[coOrder](rc, state.Descriptor{Name: "orders"})
	f.pays = stream.NewListState[coOrder](rc, state.Descriptor{Name: "pays"})
	f.timers = stream.NewValueState[int](rc, state.Descriptor{Name: "timers"})
	return nil
}

func (f *coBalance) ProcessElement1(ctx *stream.KeyedContext[string], v coOrder, _ stream.Collector[coReport]) error {
	if ctx.Key() != v.Key || ctx.Timestamp() != v.TS {
		return fmt.Errorf("context has key %q ts %d for %+v", ctx.Key(), ctx.Timestamp(), v)
	}
	f.orders.Add(v)
	ctx.RegisterEventTimeTimer(v.TS + coTimerDelay)
	return nil
}

func (f *coBalance) ProcessElement2(ctx *stream.KeyedContext[string], v coPay, _ stream.Collector[coReport]) error {
	if ctx.Key() != v.Key {
		return fmt.Errorf("context has key %q for %+v", ctx.Key(), v)
	}
	f.pays.Add(coOrder{v.Key, v.TS, v.Paid})
	ctx.RegisterEventTimeTimer(v.TS + coTimerDelay)
	return nil
}

func (f *coBalance) OnTimer(ctx *stream.KeyedContext[string], at int64, out stream.Collector[coReport]) error {
	if ctx.TimeDomain() != stream.EventTime {
		return errors.New("not an event-time timer")
	}
	if ctx.CurrentWatermark() < at {
		return fmt.Errorf("timer %d fired at watermark %d", at, ctx.CurrentWatermark())
	}
	r := coReport{Key: ctx.Key(), At: at}
	for _, o := range f.orders.Get() {
		if o.TS <= at {
			r.Orders += o.Amount
		}
	}
	for _, p := range f.pays.Get() {
		if p.TS <= at {
			r.Paid += p.Amount
		}
	}
	n, _ := f.timers.Value()
	f.timers.Update(n + 1)
	out.Collect(r)
	return nil
}

func coBalanceInput(seed uint64) ([]coOrder, []coPay) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var orders []coOrder
	var pays []coPay
	for i := range 800 {
		orders = append(orders, coOrder{Key: fmt.Sprintf("k%d", rng.IntN(7)), TS: int64(i * 2), Amount: int64(rng.IntN(100))})
	}
	for i := range 500 {
		pays = append(pays, coPay{Key: fmt.Sprintf("k%d", rng.IntN(7)), TS: int64(i*3 + 1), Paid: int64(rng.IntN(100))})
	}
	// Records move at most 4 places: at most 12ms, within the 20ms bound.
	coShuffle(rng, orders, 5)
	coShuffle(rng, pays, 5)
	return orders, pays
}

// coBalanceBatch computes what coBalance reports, from all the input at once.
func coBalanceBatch(orders []coOrder, pays []coPay) []coReport {
	times := map[string]map[int64]bool{}
	mark := func(k string, at int64) {
		if times[k] == nil {
			times[k] = map[int64]bool{}
		}
		times[k][at] = true
	}
	for _, o := range orders {
		mark(o.Key, o.TS+coTimerDelay)
	}
	for _, p := range pays {
		mark(p.Key, p.TS+coTimerDelay)
	}
	var out []coReport
	for k, ats := range times {
		for at := range ats {
			r := coReport{Key: k, At: at}
			for _, o := range orders {
				if o.Key == k && o.TS <= at {
					r.Orders += o.Amount
				}
			}
			for _, p := range pays {
				if p.Key == k && p.TS <= at {
					r.Paid += p.Paid
				}
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, cmpCoReport)
	return out
}

func TestKeyedCoProcess(t *testing.T) {
	orders, pays := coBalanceInput(7)
	want := coBalanceBatch(orders, pays)
	for _, p := range []int{1, 2, 4} {
		env := stream.New("keyed-coprocess", stream.Config{Parallelism: p, WatermarkInterval: -1})
		a := stream.KeyBy(stream.FromSlice(env, orders, eventtime.BoundedOutOfOrderness(20*time.Millisecond, func(o coOrder) int64 { return o.TS })),
			func(o coOrder) string { return o.Key })
		b := stream.KeyBy(stream.FromSlice(env, pays, eventtime.BoundedOutOfOrderness(20*time.Millisecond, func(p coPay) int64 { return p.TS })),
			func(p coPay) string { return p.Key })
		out := stream.Collect(stream.KeyedCoProcess(stream.ConnectKeyed(a, b), &coBalance{}))
		if err := coExecute(t, env); err != nil {
			t.Fatalf("p=%d: %v", p, err)
		}
		got := out.Values()
		for i, ts := range out.Timestamps() {
			if ts != got[i].At {
				t.Fatalf("p=%d: %+v has timestamp %d", p, got[i], ts)
			}
		}
		slices.SortFunc(got, cmpCoReport)
		if !slices.Equal(got, want) {
			t.Fatalf("p=%d: got %d reports, want %d\n got %v\nwant %v", p, len(got), len(want), got[:min(8, len(got))], want[:min(8, len(want))])
		}
	}
}

var errCoBad = errors.New("bad payment")

type coFailing struct{ failOnTimer bool }

func (f *coFailing) ProcessElement1(ctx *stream.KeyedContext[string], v coOrder, _ stream.Collector[int]) error {
	if f.failOnTimer {
		ctx.RegisterEventTimeTimer(v.TS)
	}
	return nil
}

func (f *coFailing) ProcessElement2(_ *stream.KeyedContext[string], v coPay, _ stream.Collector[int]) error {
	if !f.failOnTimer && v.Paid == 13 {
		return errCoBad
	}
	return nil
}

func (f *coFailing) OnTimer(ctx *stream.KeyedContext[string], at int64, _ stream.Collector[int]) error {
	if ctx.Key() == "k1" {
		panic("boom in OnTimer")
	}
	return nil
}

func TestKeyedCoProcessFailures(t *testing.T) {
	orders := []coOrder{{"k0", 1, 1}, {"k1", 2, 1}}
	pays := []coPay{{"k0", 1, 12}, {"k1", 2, 13}}
	for _, onTimer := range []bool{false, true} {
		env := stream.New("keyed-coprocess-fail", stream.Config{Parallelism: 2, WatermarkInterval: -1})
		a := stream.KeyBy(stream.FromSlice(env, orders, eventtime.Monotonous(func(o coOrder) int64 { return o.TS })), func(o coOrder) string { return o.Key })
		b := stream.KeyBy(stream.FromSlice(env, pays, eventtime.Monotonous(func(p coPay) int64 { return p.TS })), func(p coPay) string { return p.Key })
		stream.KeyedCoProcess(stream.ConnectKeyed(a, b), &coFailing{failOnTimer: onTimer}).Name("Balance").Discard()
		err := coExecute(t, env)
		var oe *stream.OperatorError
		if !errors.As(err, &oe) || oe.Operator != "Balance" {
			t.Fatalf("onTimer=%v: got %v, want an OperatorError of Balance", onTimer, err)
		}
		if !onTimer && (!errors.Is(err, errCoBad) || !strings.Contains(oe.Record, "Paid:13")) {
			t.Errorf("got %v, want errCoBad naming the payment", err)
		}
		if onTimer && (!strings.Contains(err.Error(), "boom in OnTimer") || !strings.Contains(oe.Record, "timer") || !strings.Contains(oe.Record, "k1")) {
			t.Errorf("got %v (record %q), want the panic naming the timer of k1", err, oe.Record)
		}
	}
}

func TestConnectDifferentJobsPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "different jobs") {
			t.Fatalf("got %v, want a panic about different jobs", r)
		}
	}()
	a := stream.FromSlice(stream.New("a", stream.Config{}), []int{1}, eventtime.Strategy[int]{})
	b := stream.FromSlice(stream.New("b", stream.Config{}), []int{1}, eventtime.Strategy[int]{})
	stream.Connect(a, b)
}

// coProcTimer registers a processing-time timer a second ahead for the first order of each
// key and reports the firing.
type coProcTimer struct {
	registered chan<- string
	fired      chan<- string
	seen       state.Value[bool]
}

func (f *coProcTimer) Open(rc *stream.KeyedRuntime[string]) error {
	f.seen = stream.NewValueState[bool](rc, state.Descriptor{Name: "seen"})
	return nil
}

func (f *coProcTimer) ProcessElement1(ctx *stream.KeyedContext[string], v coOrder, _ stream.Collector[string]) error {
	if seen, _ := f.seen.Value(); seen {
		return nil
	}
	f.seen.Update(true)
	ctx.RegisterProcessingTimeTimer(ctx.CurrentProcessingTime() + 1000)
	f.registered <- v.Key
	return nil
}

func (f *coProcTimer) ProcessElement2(*stream.KeyedContext[string], coPay, stream.Collector[string]) error {
	return nil
}

func (f *coProcTimer) OnTimer(ctx *stream.KeyedContext[string], at int64, out stream.Collector[string]) error {
	if ctx.TimeDomain() != stream.ProcessingTime {
		return errors.New("not a processing-time timer")
	}
	f.fired <- ctx.Key()
	return nil
}

func TestKeyedCoProcessProcessingTimeTimers(t *testing.T) {
	clock := clockwork.NewFakeClock()
	env := stream.New("keyed-coprocess-proctime", stream.Config{Parallelism: 2, WatermarkInterval: -1, Clock: clock})
	// An unbounded source, rate-limited by the fake clock: one order per key, then nothing
	// until the clock moves.
	gen, err := datagen.New(func(n int64) coOrder { return coOrder{Key: fmt.Sprintf("k%d", n%3), TS: n} }, datagen.Config{Rate: 3})
	if err != nil {
		t.Fatal(err)
	}
	a := stream.KeyBy(stream.FromSource(env, gen, eventtime.Strategy[coOrder]{}).Parallelism(1), func(o coOrder) string { return o.Key })
	b := stream.KeyBy(stream.FromSlice(env, []coPay{{Key: "k0"}}, eventtime.Strategy[coPay]{}), func(p coPay) string { return p.Key })
	registered, fired := make(chan string, 100), make(chan string, 100)
	stream.KeyedCoProcess(stream.ConnectKeyed(a, b), &coProcTimer{registered: registered, fired: fired}).Discard()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- env.Execute(ctx) }()
	if k := <-registered; k != "k0" {
		t.Fatalf("first registration for %s, want k0", k)
	}
	select {
	case k := <-fired:
		t.Fatalf("timer of %s fired before the clock moved", k)
	default:
	}
	clock.Advance(1000 * time.Millisecond)
	if k := <-fired; k != "k0" {
		t.Fatalf("timer of %s fired, want k0", k)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the job cancelled", err)
	}
}
