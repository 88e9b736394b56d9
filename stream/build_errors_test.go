package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// These tests check that mistakes a user can make fail when the job is built, with a message
// naming the cause, rather than when the job runs.

// badOpenFn has an Open method with a signature no opener interface has.
type badOpenFn struct{}

func (*badOpenFn) Open(rc *stream.RuntimeContext, n int) error { return nil }
func (*badOpenFn) ProcessElement(_ *stream.KeyedContext[string], v string, out stream.Collector[string]) error {
	out.Collect(v)
	return nil
}

// wrongKeyOpenFn opens with the KeyedRuntime of another key type than its stream's.
type wrongKeyOpenFn struct{}

func (*wrongKeyOpenFn) Open(rc *stream.KeyedRuntime[int]) error { return nil }
func (*wrongKeyOpenFn) ProcessElement(_ *stream.KeyedContext[string], v string, out stream.Collector[string]) error {
	return nil
}

// badCloseFn has a Close method that is not Closer's.
type badCloseFn struct{}

func (badCloseFn) Close() {}
func (badCloseFn) ProcessElement(_ *stream.Context, v string, out stream.Collector[string]) error {
	return nil
}

// goodFn opens and closes through the interfaces.
type goodFn struct{}

func (*goodFn) Open(rc *stream.KeyedRuntime[string]) error { return nil }
func (*goodFn) Close() error                               { return nil }
func (*goodFn) ProcessElement(_ *stream.KeyedContext[string], v string, out stream.Collector[string]) error {
	return nil
}

func buildPanic(build func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	build()
	return ""
}

func TestOpenMatchingNoOpenerFailsTheBuild(t *testing.T) {
	in := func() stream.Keyed[string, string] {
		env := stream.New("open", stream.Config{})
		return stream.KeyBy(stream.FromSlice(env, []string{"a"}, eventtime.Strategy[string]{}), func(s string) string { return s })
	}
	for _, c := range []struct {
		name  string
		build func()
		want  []string
	}{
		{"extra parameter", func() { stream.KeyedProcess[string, string, string](in(), &badOpenFn{}) },
			[]string{"KeyedProcess", "*stream_test.badOpenFn", "Open(*stream.RuntimeContext, int) error", "stream.KeyedOpener[string]", "stream.Opener", "never call"}},
		{"other key type", func() { stream.KeyedProcess[string, string, string](in(), &wrongKeyOpenFn{}) },
			[]string{"Open(*stream.KeyedRuntime[int]) error", "stream.KeyedOpener[string] (Open(*stream.KeyedRuntime[string]) error)"}},
		{"close without error", func() {
			env := stream.New("close", stream.Config{})
			stream.Process[string, string](stream.FromSlice(env, []string{"a"}, eventtime.Strategy[string]{}), badCloseFn{})
		}, []string{"Process", "badCloseFn has a method Close()", "stream.Closer"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := buildPanic(c.build)
			if msg == "" {
				t.Fatal("the job was built")
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
		})
	}
	if msg := buildPanic(func() { stream.KeyedProcess[string, string, string](in(), &goodFn{}) }); msg != "" {
		t.Fatalf("a function with the right Open and Close was refused: %s", msg)
	}
}

// A sink is the end of a pipeline: SinkTo, Print, PrintTo and Discard return a Sink, which
// can be named but not transformed, so `.Print().Map(...)` does not compile.
var (
	_ func(stream.Stream[int]) stream.Sink = stream.Stream[int].Print
	_ func(stream.Stream[int]) stream.Sink = stream.Stream[int].Discard
)

func TestSinkHandle(t *testing.T) {
	env := stream.New("sink", stream.Config{Parallelism: 2})
	stream.FromSlice(env, []int{1, 2, 3}, eventtime.Strategy[int]{}).Discard().Name("nowhere").Uid("nowhere").Parallelism(1)
	if err := env.Validate(); err != nil {
		t.Fatal(err)
	}
	if plan := env.Plan(); !strings.Contains(plan, "nowhere") {
		t.Fatalf("the plan does not show the sink's name:\n%s", plan)
	}
}

func TestValidateChecksTheConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  stream.Config
		want string
	}{
		{stream.Config{MaxParallelism: -1}, "max parallelism -1"},
		{stream.Config{Parallelism: 8, MaxParallelism: 4}, "parallelism 8 exceeds max parallelism 4"},
		{stream.Config{Checkpoints: stream.Checkpoints{Interval: -time.Second}}, "negative interval"},
	} {
		env := stream.New("validate", c.cfg)
		stream.FromSlice(env, []int{1}, eventtime.Strategy[int]{}).Discard()
		if err := env.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: Validate returned %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}
