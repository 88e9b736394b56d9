package window_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/window"
)

// fakeContext is a TriggerContext that records what a trigger does.
type fakeContext struct {
	wm, now    int64
	state      int64
	event      []int64 // registered event-time timers, in order
	proc       []int64
	deletedEv  []int64
	deletedPrc []int64
}

func (c *fakeContext) CurrentWatermark() int64              { return c.wm }
func (c *fakeContext) CurrentProcessingTime() int64         { return c.now }
func (c *fakeContext) RegisterEventTimeTimer(at int64)      { c.event = append(c.event, at) }
func (c *fakeContext) RegisterProcessingTimeTimer(at int64) { c.proc = append(c.proc, at) }
func (c *fakeContext) DeleteEventTimeTimer(at int64)        { c.deletedEv = append(c.deletedEv, at) }
func (c *fakeContext) DeleteProcessingTimeTimer(at int64)   { c.deletedPrc = append(c.deletedPrc, at) }
func (c *fakeContext) State() *int64                        { return &c.state }

var w10 = window.Window{Start: 0, End: 10}

func TestEventTimeTrigger(t *testing.T) {
	tr := window.EventTimeTrigger()
	ctx := &fakeContext{wm: eventtime.MinTime}
	if r := tr.OnElement(3, w10, ctx); r != window.Continue || !slices.Equal(ctx.event, []int64{9}) {
		t.Fatalf("on time: got %v, timers %v; want CONTINUE and a timer at 9", r, ctx.event)
	}
	if r := tr.OnEventTime(9, w10, ctx); r != window.Fire {
		t.Fatalf("OnEventTime(MaxTimestamp) = %v, want FIRE", r)
	}
	if r := tr.OnEventTime(14, w10, ctx); r != window.Continue {
		t.Fatalf("OnEventTime(cleanup time) = %v, want CONTINUE", r)
	}
	// A record after the watermark passed the window (within allowed lateness) fires at once.
	late := &fakeContext{wm: 9}
	if r := tr.OnElement(3, w10, late); r != window.Fire || len(late.event) != 0 {
		t.Fatalf("late record: got %v, timers %v; want FIRE and no timer", r, late.event)
	}
	tr.Clear(w10, ctx)
	if !slices.Equal(ctx.deletedEv, []int64{9}) {
		t.Fatalf("Clear deleted %v, want [9]", ctx.deletedEv)
	}
	merged := &fakeContext{wm: 5}
	tr.OnMerge(w10, []int64{0, 0}, merged)
	if !slices.Equal(merged.event, []int64{9}) {
		t.Fatalf("OnMerge registered %v, want [9]", merged.event)
	}
	merged = &fakeContext{wm: 9}
	tr.OnMerge(w10, nil, merged)
	if len(merged.event) != 0 {
		t.Fatalf("OnMerge of a window the watermark passed registered %v", merged.event)
	}
}

func TestProcessingTimeTrigger(t *testing.T) {
	tr := window.ProcessingTimeTrigger()
	ctx := &fakeContext{now: 2}
	if r := tr.OnElement(0, w10, ctx); r != window.Continue || !slices.Equal(ctx.proc, []int64{9}) {
		t.Fatalf("got %v, timers %v; want CONTINUE and a timer at 9", r, ctx.proc)
	}
	if r := tr.OnProcessingTime(9, w10, ctx); r != window.Fire {
		t.Fatalf("OnProcessingTime = %v, want FIRE", r)
	}
	if r := tr.OnEventTime(9, w10, ctx); r != window.Continue {
		t.Fatalf("OnEventTime = %v, want CONTINUE", r)
	}
	tr.Clear(w10, ctx)
	if !slices.Equal(ctx.deletedPrc, []int64{9}) {
		t.Fatalf("Clear deleted %v, want [9]", ctx.deletedPrc)
	}
}

func TestCountTrigger(t *testing.T) {
	for _, tc := range []struct {
		trigger window.Trigger
		want    []window.TriggerResult
	}{
		{window.CountTrigger(3), []window.TriggerResult{window.Continue, window.Continue, window.Fire, window.Continue, window.Continue, window.Fire, window.Continue}},
		{window.PurgingTrigger(window.CountTrigger(3)), []window.TriggerResult{window.Continue, window.Continue, window.FireAndPurge, window.Continue, window.Continue, window.FireAndPurge, window.Continue}},
		{window.CountTrigger(1), []window.TriggerResult{window.Fire, window.Fire, window.Fire}},
	} {
		t.Run(tc.trigger.String(), func(t *testing.T) {
			ctx := &fakeContext{}
			var got []window.TriggerResult
			for i := range tc.want {
				got = append(got, tc.trigger.OnElement(int64(i), window.Global, ctx))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if len(ctx.event)+len(ctx.proc) != 0 {
				t.Fatalf("a count trigger registered timers: %v %v", ctx.event, ctx.proc)
			}
		})
	}
	// Merged windows add their counts; the next record fires when the sum reaches n.
	tr := window.PurgingTrigger(window.CountTrigger(5)).(window.MergingTrigger)
	ctx := &fakeContext{}
	tr.OnMerge(w10, []int64{2, 2}, ctx)
	if ctx.state != 4 {
		t.Fatalf("merged count %d, want 4", ctx.state)
	}
	if r := tr.OnElement(0, w10, ctx); r != window.FireAndPurge || ctx.state != 0 {
		t.Fatalf("after merge: %v with count %d, want FIRE_AND_PURGE and 0", r, ctx.state)
	}
	ctx.state = 3
	tr.Clear(w10, ctx)
	if ctx.state != 0 {
		t.Fatalf("Clear left count %d", ctx.state)
	}
}

func TestCountTriggerRejectsZero(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "at least 1") {
			t.Fatalf("CountTrigger(0) panicked with %v", r)
		}
	}()
	window.CountTrigger(0)
}

func TestPurgingKeepsMergingCapability(t *testing.T) {
	if _, ok := window.PurgingTrigger(window.CountTrigger(2)).(window.MergingTrigger); !ok {
		t.Error("PurgingTrigger(CountTrigger) lost OnMerge")
	}
	if _, ok := window.PurgingTrigger(onlyTrigger{}).(window.MergingTrigger); ok {
		t.Error("PurgingTrigger of a non-merging trigger claims to merge")
	}
}

type onlyTrigger struct{ window.Trigger }

func TestDefaultTrigger(t *testing.T) {
	for _, tc := range []struct {
		a    window.Assigner
		want string
	}{
		{window.TumblingEventTime(time.Second), "EventTimeTrigger"},
		{window.SlidingEventTime(time.Second, 100*time.Millisecond), "EventTimeTrigger"},
		{window.EventTimeSession(time.Second), "EventTimeTrigger"},
		{window.TumblingProcessingTime(time.Second), "ProcessingTimeTrigger"},
		{window.ProcessingTimeSession(time.Second), "ProcessingTimeTrigger"},
		{window.GlobalWindows(), "NeverTrigger"},
	} {
		if got := window.DefaultTrigger(tc.a).String(); got != tc.want {
			t.Errorf("DefaultTrigger(%v) = %s, want %s", tc.a, got, tc.want)
		}
	}
}

func TestTriggerResult(t *testing.T) {
	for _, tc := range []struct {
		r           window.TriggerResult
		fire, purge bool
		name        string
	}{
		{window.Continue, false, false, "CONTINUE"},
		{window.Fire, true, false, "FIRE"},
		{window.Purge, false, true, "PURGE"},
		{window.FireAndPurge, true, true, "FIRE_AND_PURGE"},
	} {
		if tc.r.IsFire() != tc.fire || tc.r.IsPurge() != tc.purge || tc.r.String() != tc.name {
			t.Errorf("%v: IsFire %v IsPurge %v String %q", tc.name, tc.r.IsFire(), tc.r.IsPurge(), tc.r.String())
		}
	}
}

func TestCleanupTime(t *testing.T) {
	for _, tc := range []struct {
		w         window.Window
		eventTime bool
		lateness  int64
		want      int64
	}{
		{w10, true, 0, 9},
		{w10, true, 5, 14},
		{w10, false, 5, 9}, // processing time ignores lateness
		{window.Window{Start: 0, End: eventtime.MaxTime - 5}, true, 100, eventtime.MaxTime},
		{window.Global, true, 0, eventtime.MaxTime},
	} {
		if got := window.CleanupTime(tc.w, tc.eventTime, tc.lateness); got != tc.want {
			t.Errorf("CleanupTime(%v, %v, %d) = %d, want %d", tc.w, tc.eventTime, tc.lateness, got, tc.want)
		}
	}
}
