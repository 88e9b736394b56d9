package eventtime_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
)

func ts(v int64) int64 { return v }

func TestBoundedOutOfOrderness(t *testing.T) {
	for _, c := range []struct {
		name  string
		delay time.Duration
		in    []int64
		want  []int64 // watermark after each record
	}{
		{"no delay", 0, []int64{10, 20, 15, 30}, []int64{9, 19, 19, 29}},
		{"5ms", 5 * time.Millisecond, []int64{100, 90, 120, 119}, []int64{94, 94, 114, 114}},
		{"1s", time.Second, []int64{5000, 7000, 6999}, []int64{3999, 5999, 5999}},
		{"sub-millisecond delay rounds down", 1500 * time.Microsecond, []int64{100}, []int64{98}},
		{"negative timestamps", 0, []int64{-50, -10}, []int64{-51, -11}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := eventtime.BoundedOutOfOrderness(c.delay, ts)
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			g := s.NewGenerator()
			if wm := g.Watermark(); wm != eventtime.MinTime {
				t.Fatalf("before any record: watermark %d, want MinTime", wm)
			}
			for i, v := range c.in {
				if got := s.Timestamp(v); got != v {
					t.Fatalf("Timestamp(%d) = %d", v, got)
				}
				g.OnEvent(v, v)
				if wm := g.Watermark(); wm != c.want[i] {
					t.Fatalf("after %v: watermark %d, want %d (max - delay - 1)", c.in[:i+1], wm, c.want[i])
				}
			}
		})
	}
}

func TestGeneratorsAreIndependent(t *testing.T) {
	s := eventtime.Monotonous(ts)
	a, b := s.NewGenerator(), s.NewGenerator()
	a.OnEvent(100, 100)
	if wm := b.Watermark(); wm != eventtime.MinTime {
		t.Fatalf("a record of split a moved the watermark of split b to %d", wm)
	}
	if wm := a.Watermark(); wm != 99 {
		t.Fatalf("Monotonous watermark after 100: %d, want 99", wm)
	}
}

func TestCustomAndWithIdleness(t *testing.T) {
	punctuated := eventtime.Custom(ts, func() eventtime.Generator[int64] { return &everyTen{wm: eventtime.MinTime} })
	g := punctuated.NewGenerator()
	for _, v := range []int64{3, 10, 15} {
		g.OnEvent(v, v)
	}
	if wm := g.Watermark(); wm != 10 {
		t.Fatalf("custom generator: watermark %d, want 10", wm)
	}
	idle := punctuated.WithIdleness(time.Minute)
	if idle.IdleTimeout != time.Minute || punctuated.IdleTimeout != 0 {
		t.Fatalf("WithIdleness: copy has %v, original %v", idle.IdleTimeout, punctuated.IdleTimeout)
	}
}

// everyTen is a punctuated generator: the watermark is the last multiple of ten seen.
type everyTen struct{ wm int64 }

func (g *everyTen) OnEvent(_ int64, ts int64) {
	if ts%10 == 0 {
		g.wm = ts
	}
}
func (g *everyTen) Watermark() int64 { return g.wm }

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name    string
		s       eventtime.Strategy[int64]
		wantErr string
	}{
		{"zero", eventtime.Strategy[int64]{}, ""},
		{"timestamps only", eventtime.Strategy[int64]{Timestamp: ts}, ""},
		{"bounded", eventtime.BoundedOutOfOrderness(time.Second, ts), ""},
		{"idle", eventtime.Monotonous(ts).WithIdleness(time.Second), ""},
		{"negative idleness", eventtime.Monotonous(ts).WithIdleness(-time.Second), "negative idle timeout"},
		{"generator without timestamps", eventtime.Strategy[int64]{NewGenerator: eventtime.Monotonous(ts).NewGenerator}, "needs a timestamp function"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.Validate()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("no error, want one containing %q", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("error %q does not contain %q", err, c.wantErr)
			case err != nil && !strings.HasPrefix(err.Error(), "eventtime: "):
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		ms   int64
		want string
	}{
		{eventtime.MinTime, "-inf"},
		{eventtime.MaxTime, "+inf"},
		{0, "1970-01-01T00:00:00.000Z"},
		{1_767_225_600_123, "2026-01-01T00:00:00.123Z"},
	} {
		if got := eventtime.Format(c.ms); got != c.want {
			t.Errorf("Format(%d) = %q, want %q", c.ms, got, c.want)
		}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC)
	if got := eventtime.Millis(at); got != 1_767_225_600_500 {
		t.Errorf("Millis = %d", got)
	}
}
