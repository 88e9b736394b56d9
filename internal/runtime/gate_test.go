package runtime

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/eventtime"
)

// controlLog records the Control calls a gate makes, as "wm 5", "idle", "active", "finish".
type controlLog struct{ calls []string }

func (c *controlLog) Watermark(wm int64) {
	if wm == eventtime.MaxTime || wm == eventtime.MinTime {
		c.calls = append(c.calls, "wm "+eventtime.Format(wm))
		return
	}
	c.calls = append(c.calls, fmt.Sprintf("wm %d", wm))
}

func (c *controlLog) Idle(idle bool) {
	if idle {
		c.calls = append(c.calls, "idle")
	} else {
		c.calls = append(c.calls, "active")
	}
}

func (c *controlLog) Finish() { c.calls = append(c.calls, "finish") }

// step is one envelope into a gate: "0 wm 5", "1 idle", "1 active", "0 end", "0 records 3".
func parseStep(t *testing.T, s string) envelope {
	t.Helper()
	var ch int32
	var what string
	var arg int64
	n, _ := fmt.Sscanf(s, "%d %s %d", &ch, &what, &arg)
	if n < 2 {
		t.Fatalf("bad step %q", s)
	}
	e := envelope{channel: ch}
	switch what {
	case "wm":
		e.kind, e.wm = kindWatermark, arg
	case "idle":
		e.kind = kindIdle
	case "active":
		e.kind = kindActive
	case "end":
		e.kind = kindEnd
	case "barrier":
		e.kind, e.wm = kindBarrier, arg
	case "records":
		e.kind = kindRecords
		b := newBatchPool[int](4).Get().(*batch[int])
		for i := range arg {
			b.vals, b.ts = append(b.vals, int(i)), append(b.ts, 0)
		}
		e.batch = b
	default:
		t.Fatalf("bad step %q", s)
	}
	return e
}

// maxTime is eventtime.MaxTime in a step.
var maxTime = fmt.Sprint(eventtime.MaxTime)

// TestGate feeds envelopes to a gate of a task with several input channels and checks the
// watermark, idleness and end of input it passes on: the minimum over channels that are
// neither idle nor ended, never going back; when all have ended, the highest watermark any
// channel reached, MaxTime, then Finish.
func TestGate(t *testing.T) {
	for _, c := range []struct {
		name     string
		channels int
		steps    []string
		want     []string
		received int
	}{
		{
			name: "minimum over channels", channels: 2,
			steps: []string{"0 wm 10", "1 wm 5", "1 wm 20", "0 wm 30"},
			want:  []string{"wm 5", "wm 10", "wm 20"},
		},
		{
			name: "never goes back", channels: 2,
			steps: []string{"0 wm 10", "1 wm 10", "0 wm 8", "1 wm 9", "0 wm 12"},
			want:  []string{"wm 10"},
		},
		{
			name: "an idle channel does not hold back the watermark", channels: 3,
			steps: []string{"0 wm 100", "1 wm 50", "2 idle", "1 wm 100"},
			want:  []string{"wm 50", "wm 100"},
		},
		{
			name: "an idle channel that comes back counts again", channels: 2,
			steps: []string{"1 idle", "0 wm 100", "1 active", "1 wm 50", "0 wm 200", "1 wm 150"},
			want:  []string{"wm 100", "wm 150"},
		},
		{
			name: "all idle makes the task idle", channels: 2,
			steps: []string{"0 wm 1", "1 wm 2", "0 idle", "1 idle", "0 active", "0 wm 5"},
			want:  []string{"wm 1", "wm 2", "idle", "active", "wm 5"},
		},
		{
			name: "an ended channel does not count", channels: 2,
			steps: []string{"0 wm 10", "1 end", "0 wm 20"},
			want:  []string{"wm 10", "wm 20"},
		},
		{
			name: "end of all channels is the highest watermark reached, MaxTime, then Finish", channels: 2,
			steps: []string{"0 wm 10", "1 wm 3", "0 end", "1 end"},
			want:  []string{"wm 3", "wm 10", "wm +inf", "finish"},
		},
		{
			name: "before MaxTime, the highest watermark any channel reached", channels: 2,
			steps: []string{"0 wm 100", "1 wm 10", "0 wm " + maxTime, "0 end", "1 wm 20", "1 wm " + maxTime, "1 end"},
			want:  []string{"wm 10", "wm 20", "wm 100", "wm +inf", "finish"},
		},
		{
			name: "the channel that ended last reached the most", channels: 2,
			steps: []string{"0 wm 10", "0 wm " + maxTime, "0 end", "1 wm 100", "1 wm " + maxTime, "1 end"},
			want:  []string{"wm 100", "wm +inf", "finish"},
		},
		{
			name: "an idle channel's watermark counts at the end", channels: 2,
			steps: []string{"0 wm 50", "0 idle", "1 wm 10", "1 wm " + maxTime, "1 end", "0 end"},
			want:  []string{"wm 10", "wm 50", "wm +inf", "idle", "finish"},
		},
		{
			name: "MaxTime is not repeated at the end", channels: 1,
			steps: []string{"0 wm " + maxTime, "0 end"},
			want:  []string{"wm +inf", "finish"},
		},
		{
			name: "an idle channel ends", channels: 2,
			steps: []string{"0 idle", "1 wm 7", "0 end", "1 end"},
			want:  []string{"wm 7", "wm +inf", "finish"},
		},
		{
			name: "records are delivered and counted", channels: 2,
			steps:    []string{"0 records 3", "1 idle", "1 records 2", "0 end", "1 end"},
			want:     []string{"idle", "wm +inf", "finish"},
			received: 5,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			inputs := make([]int, c.channels)
			g := newGate(inputs)
			log := &controlLog{}
			g.control = log
			var got []int
			g.deliver = []func(any) int{typeOf[int]{}.deliverer(&intSink{got: &got})}
			received := 0
			for i, s := range c.steps {
				if g.done() {
					t.Fatalf("gate done before step %d", i)
				}
				received += g.handle(parseStep(t, s))
			}
			if !slices.Equal(log.calls, c.want) {
				t.Fatalf("steps %s\ngot  %v\nwant %v", strings.Join(c.steps, ", "), log.calls, c.want)
			}
			if received != c.received || len(got) != c.received {
				t.Fatalf("received %d (delivered %d), want %d", received, len(got), c.received)
			}
		})
	}
}

// intSink is an Output[int] appending what it gets.
type intSink struct {
	Discard[int]
	got *[]int
}

func (s *intSink) Collect(v int, _ int64) { *s.got = append(*s.got, v) }

// TestGateAlignment feeds barriers to a gate and checks when it snapshots (onAligned), what it
// holds back meanwhile and gives up on (onDecline), in the log of Control calls: "snapshot n",
// "decline n", and the record counts as "records k".
func TestGateAlignment(t *testing.T) {
	for _, c := range []struct {
		name     string
		channels int
		maxHeld  int
		steps    []string
		want     []string
	}{
		{
			name: "one channel snapshots at once", channels: 1,
			steps: []string{"0 records 2", "0 barrier 1", "0 records 1"},
			want:  []string{"records 2", "snapshot 1", "records 1"},
		},
		{
			name: "records after the barrier wait for the other channel", channels: 2,
			steps: []string{"0 barrier 1", "0 records 3", "0 wm 5", "1 records 2", "1 wm 7", "1 barrier 1"},
			want:  []string{"records 2", "snapshot 1", "records 3", "wm 5"},
		},
		{
			name: "an ended channel counts as aligned", channels: 2,
			steps: []string{"0 barrier 1", "0 records 1", "1 end"},
			want:  []string{"snapshot 1", "records 1"},
		},
		{
			name: "a channel ending after the others aligned ends the alignment", channels: 3,
			steps: []string{"0 barrier 1", "1 barrier 1", "0 records 1", "2 records 4", "2 end"},
			want:  []string{"records 4", "snapshot 1", "records 1"},
		},
		{
			name: "a newer barrier gives the older checkpoint up", channels: 2,
			steps: []string{"0 barrier 1", "0 records 1", "0 barrier 2", "1 barrier 2", "1 barrier 1"},
			want:  []string{"decline 1", "records 1", "snapshot 2"},
		},
		{
			name: "held back envelopes are bounded", channels: 2, maxHeld: 2,
			steps: []string{"0 barrier 1", "0 records 1", "0 records 1", "0 records 1", "1 barrier 1"},
			want:  []string{"decline 1", "records 1", "records 1", "records 1"},
		},
		{
			name: "a barrier held back starts the next alignment", channels: 2,
			steps: []string{"0 barrier 1", "0 records 1", "0 barrier 2", "0 records 5", "1 barrier 1", "1 records 2", "1 barrier 2"},
			want:  []string{"snapshot 1", "records 1", "records 2", "snapshot 2", "records 5"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGate(make([]int, c.channels))
			log := &controlLog{}
			g.control = log
			g.maxHeld = 100
			if c.maxHeld > 0 {
				g.maxHeld = c.maxHeld
			}
			g.onAligned = func(id int64) { log.calls = append(log.calls, fmt.Sprintf("snapshot %d", id)) }
			g.onDecline = func(id int64, err error) {
				if err == nil {
					t.Error("decline without a reason")
				}
				log.calls = append(log.calls, fmt.Sprintf("decline %d", id))
			}
			var got []int
			g.deliver = []func(any) int{func(b any) int {
				n := typeOf[int]{}.deliverer(&intSink{got: &got})(b)
				log.calls = append(log.calls, fmt.Sprintf("records %d", n))
				return n
			}}
			for _, s := range c.steps {
				g.handle(parseStep(t, s))
			}
			var calls []string
			for _, l := range log.calls {
				if !strings.HasPrefix(l, "wm ") || slices.Contains(c.want, l) {
					calls = append(calls, l)
				}
			}
			if !slices.Equal(calls, c.want) {
				t.Fatalf("steps %s\ngot  %v\nwant %v", strings.Join(c.steps, ", "), calls, c.want)
			}
		})
	}
}
