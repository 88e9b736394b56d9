package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/keygroup"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
	"github.com/runnel-io/runnel/window"
)

// This file is the window operator: Flink's WindowOperator over the pane functions that
// window.go's WindowReduce, WindowAggregate, WindowProcess and WindowAggregateProcess plug in.
//
// State is a map per owned key group from key to the key's panes (one per window, sorted by
// window), so that checkpoints can store and move it per key group, and a record costs one map
// look-up however many windows it falls in. For merging assigners the key's panes are also its
// merging window set (Flink's MergingWindowSet). Timers are in window_timers.go. Checkpoints
// (SnapshotState, and restore in Open) are at the end of this file.

// windowConfig is what the job graph fixes for every subtask of a window operator.
type windowConfig struct {
	assigner  window.Assigner
	trigger   window.Trigger
	merging   window.MergingTrigger // the trigger, when the assigner merges
	eventTime bool
	lateness  int64
	lateTag   string
	dropped   *atomic.Int64
}

// windowPane is what one key keeps for one window: a pane.
type windowPane[ACC any] struct {
	w      window.Window
	trig   int64 // the trigger's state (window.TriggerContext.State)
	has    bool  // the pane holds contents (Flink: the window state is not null)
	dirty  bool  // records were added since the pane last fired
	timers paneTimers
	acc    ACC
}

// keyPanes are the panes of one key, sorted by window start, then end.
type keyPanes[ACC any] struct {
	panes []windowPane[ACC]
}

func cmpWindow(a, b window.Window) int {
	switch {
	case a.Start < b.Start:
		return -1
	case a.Start > b.Start:
		return 1
	case a.End < b.End:
		return -1
	case a.End > b.End:
		return 1
	}
	return 0
}

// find returns the index of w's pane, or where to insert it.
func (kp *keyPanes[ACC]) find(w window.Window) (int, bool) {
	ps := kp.panes
	if len(ps) <= 8 {
		for i := range ps {
			if c := cmpWindow(ps[i].w, w); c >= 0 {
				return i, c == 0
			}
		}
		return len(ps), false
	}
	lo, hi := 0, len(ps)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmpWindow(ps[m].w, w) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(ps) && ps[lo].w == w
}

// maxSpareContents bounds the record lists kept for reuse.
const maxSpareContents = 1024

// windowOp is one subtask of a window operator.
type windowOp[T any, K comparable, ACC, OUT any] struct {
	forward[OUT]
	windowConfig
	c      *rt.Context
	env    windowRuntime
	key    func(T) K
	hash   keygroup.Hasher[K]
	first  int        // the first owned key group
	domain TimeDomain // of the assigner: the domain of cleanup timers

	groups        []map[K]*keyPanes[ACC] // per owned key group
	freeKeys      []*keyPanes[ACC]
	spare         []ACC // emptied contents kept for reuse (record lists)
	timers        windowTimers[K]
	tctx          triggerCtx[K]
	wm            int64
	late          rt.Output[T] // late side output; nil means drop and count
	nDropped      int64
	droppedMetric *atomic.Int64 // metrics.LateRecordsDropped of the subtask

	// scratch space, reused for every record
	assigned    []window.Window
	mergedIdx   []int
	mergedW     []window.Window
	mergedT     []paneTimers
	states      []int64
	scratchTrig int64

	// The pane functions, set by the window function (window.go). add folds v into acc (has
	// false: acc is empty); merge combines two contents (merging windows); reset empties
	// contents for reuse after a purge (nil: the zero ACC); release empties contents of a
	// dropped pane and says whether to keep them for reuse (nil: never); emit evaluates a
	// firing pane.
	add     func(acc ACC, has bool, v T) ACC
	merge   func(a, b ACC) ACC
	reset   func(acc ACC) ACC
	release func(acc ACC) (ACC, bool)
	emit    func(k K, w window.Window, acc ACC) error
	fn      any // the user's function, for Open and Close; nil if none
	wctx    WindowContext[K]
	col     collector[OUT]

	// codecs of snapshots, made at the first snapshot or restore
	keyCodec state.Codec[K]
	accCodec state.Codec[ACC]
}

// windowRuntime is what the window operator asks of the runtime beyond rt.Context's fields:
// processing-time timers, watermark and counter metrics, and the key groups it restores.
// ctxRuntime adapts an *rt.Context; tests drive the operator with a fake.
type windowRuntime interface {
	RegisterProcessingTimer(at int64, fire func(at int64))
	SetWatermarks(in, out int64)
	Counter(name string) *atomic.Int64
	// RestoredKeyGroups calls fn with the blob of each restored key group of the subtask
	// (rt.Restored.KeyGroups); it does nothing on a fresh start.
	RestoredKeyGroups(fn func(kg int, blob []byte) error) error
}

// ctxRuntime is the windowRuntime of an operator the runtime runs.
type ctxRuntime struct{ *rt.Context }

func (c ctxRuntime) RestoredKeyGroups(fn func(kg int, blob []byte) error) error {
	return c.Restored().KeyGroups(fn)
}

// newWindowOp makes a subtask of a window operator; env is ctxRuntime{c} but in tests.
func newWindowOp[T any, K comparable, ACC, OUT any](c *rt.Context, env windowRuntime, out rt.Output[OUT], key func(T) K, cfg windowConfig) *windowOp[T, K, ACC, OUT] {
	o := &windowOp[T, K, ACC, OUT]{forward: forward[OUT]{out}, windowConfig: cfg, c: c, env: env, key: key,
		hash: keygroup.HasherFor[K](), first: c.KeyGroups.Start, wm: eventtime.MinTime}
	if !cfg.eventTime {
		o.domain = ProcessingTime
	}
	o.groups = make([]map[K]*keyPanes[ACC], c.KeyGroups.Len())
	o.timers.env = env
	o.timers.onProcTime = o.onProcTime
	o.tctx = triggerCtx[K]{timers: &o.timers, wm: &o.wm, clock: c.Clock}
	o.col.out = out
	o.wctx.Context = Context{c: c, wm: &o.wm}
	o.droppedMetric = env.Counter(metrics.LateRecordsDropped)
	if cfg.lateTag != "" {
		// Nil when no stream reads the side output: late records are then dropped and counted.
		o.late, _ = c.SideOutput(cfg.lateTag).(rt.Output[T])
	}
	return o
}

// Open restores the operator's panes and timers if the job restores a snapshot, then opens
// the user's function.
func (o *windowOp[T, K, ACC, OUT]) Open() error {
	if err := o.restore(); err != nil {
		return err
	}
	if o.fn == nil {
		return nil
	}
	if err := openFn(o.fn, o.c); err != nil {
		return fmt.Errorf("open %s: %w", o.c.Name, err)
	}
	return nil
}

func (o *windowOp[T, K, ACC, OUT]) Close() error {
	if o.nDropped > 0 {
		o.c.Logger.Warn("window operator dropped late records", "numLateRecordsDropped", o.nDropped,
			"allowedLateness", o.lateness)
	}
	if o.fn == nil {
		return nil
	}
	return closeFn(o.fn)
}

func (o *windowOp[T, K, ACC, OUT]) cleanupTime(w window.Window) int64 {
	return window.CleanupTime(w, o.eventTime, o.lateness)
}

// isLate reports whether w is past its cleanup time: records can no longer be added to it.
func (o *windowOp[T, K, ACC, OUT]) isLate(w window.Window) bool {
	return o.eventTime && o.cleanupTime(w) <= o.wm
}

// keyPanes returns the panes of key k in key group g, creating them.
func (o *windowOp[T, K, ACC, OUT]) keyPanes(k K, g int) *keyPanes[ACC] {
	m := o.groups[g-o.first]
	if m == nil {
		m = make(map[K]*keyPanes[ACC])
		o.groups[g-o.first] = m
	}
	kp := m[k]
	if kp == nil {
		if n := len(o.freeKeys); n > 0 {
			kp, o.freeKeys = o.freeKeys[n-1], o.freeKeys[:n-1]
		} else {
			kp = &keyPanes[ACC]{}
		}
		m[k] = kp
	}
	return kp
}

// insertPane inserts an empty pane for w at index i of kp.
func (o *windowOp[T, K, ACC, OUT]) insertPane(kp *keyPanes[ACC], i int, w window.Window) {
	p := windowPane[ACC]{w: w}
	if n := len(o.spare); n > 0 {
		p.acc, o.spare = o.spare[n-1], o.spare[:n-1]
	}
	if i == len(kp.panes) {
		kp.panes = append(kp.panes, p)
		return
	}
	kp.panes = append(kp.panes, windowPane[ACC]{})
	copy(kp.panes[i+1:], kp.panes[i:])
	kp.panes[i] = p
}

// releaseAcc takes back the contents of a pane that goes away.
func (o *windowOp[T, K, ACC, OUT]) releaseAcc(acc ACC) {
	if o.release == nil {
		return
	}
	if a, ok := o.release(acc); ok && len(o.spare) < maxSpareContents {
		o.spare = append(o.spare, a)
	}
}

// empty drops p's contents (a purge).
func (o *windowOp[T, K, ACC, OUT]) empty(p *windowPane[ACC]) {
	if o.reset != nil {
		p.acc = o.reset(p.acc)
	} else {
		var zero ACC
		p.acc = zero
	}
	p.has, p.dirty = false, false
}

// Collect adds a record to its windows.
func (o *windowOp[T, K, ACC, OUT]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	k := o.key(v)
	g := keygroup.Of(o.hash(k), o.c.MaxParallelism)
	if !o.c.KeyGroups.Contains(g) {
		panic(fmt.Sprintf("stream: key %v of key group %d reached subtask %d which owns %v", k, g, o.c.Subtask, o.c.KeyGroups))
	}
	at := ts
	if !o.eventTime {
		at = o.c.Clock.Now().UnixMilli()
	}
	o.assigned = o.assigner.Assign(o.assigned[:0], at)
	skipped := true
	if o.merging != nil {
		skipped = o.addMerging(v, ts, k, g)
	} else {
		var kp *keyPanes[ACC]
		for _, w := range o.assigned {
			if o.isLate(w) {
				continue
			}
			skipped = false
			if kp == nil {
				kp = o.keyPanes(k, g)
			}
			i, ok := kp.find(w)
			if !ok {
				o.insertPane(kp, i, w)
			}
			o.addAt(kp, i, v, ts, k, g)
		}
	}
	if skipped && o.eventTime && addSaturating(ts, o.lateness) <= o.wm {
		o.lateRecord(v, ts)
	}
}

func addSaturating(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return eventtime.MaxTime
}

func (o *windowOp[T, K, ACC, OUT]) lateRecord(v T, ts int64) {
	if o.late != nil {
		o.late.Collect(v, ts)
		return
	}
	o.nDropped++
	o.droppedMetric.Add(1)
	if o.dropped != nil {
		o.dropped.Add(1)
	}
}

// addAt adds v to pane i of key k, runs the trigger and registers the cleanup timer.
func (o *windowOp[T, K, ACC, OUT]) addAt(kp *keyPanes[ACC], i int, v T, ts int64, k K, g int) {
	p := &kp.panes[i]
	p.acc = o.add(p.acc, p.has, v)
	p.has, p.dirty = true, true
	o.tctx.at(k, g, p.w, &p.timers, &p.trig)
	r := o.trigger.OnElement(ts, p.w, &o.tctx)
	if r.IsFire() {
		if err := o.fire(k, p); err != nil {
			o.c.Fail(v, err)
		}
	}
	if r.IsPurge() {
		o.empty(p)
	}
	if at := o.cleanupTime(p.w); at != eventtime.MaxTime { // else dropped at end of input
		if r := (timerRef{at, o.domain}); p.timers.add(r) {
			o.timers.add(r, timerEntry[K]{key: k, w: p.w, group: g})
		}
	}
}

// fire evaluates p if it holds anything.
func (o *windowOp[T, K, ACC, OUT]) fire(k K, p *windowPane[ACC]) error {
	if !p.has {
		return nil
	}
	p.dirty = false
	return o.emit(k, p.w, p.acc)
}

// addMerging adds v to its windows after merging each with the key's windows it intersects.
// It reports whether every window was late.
func (o *windowOp[T, K, ACC, OUT]) addMerging(v T, ts int64, k K, g int) (skipped bool) {
	skipped = true
	for _, nw := range o.assigned {
		var kp *keyPanes[ACC]
		if m := o.groups[g-o.first]; m != nil {
			kp = m[k]
		}
		result := nw
		o.mergedIdx = o.mergedIdx[:0]
		if kp != nil {
			for i := range kp.panes {
				if w := kp.panes[i].w; w.Intersects(nw) {
					o.mergedIdx = append(o.mergedIdx, i)
					result = result.Cover(w)
				}
			}
		}
		var i int
		switch {
		case len(o.mergedIdx) == 0:
			if o.isLate(nw) {
				continue
			}
			if kp == nil {
				kp = o.keyPanes(k, g)
			}
			i, _ = kp.find(nw)
			o.insertPane(kp, i, nw)
		case len(o.mergedIdx) == 1 && kp.panes[o.mergedIdx[0]].w == result:
			i = o.mergedIdx[0] // nw lies inside a window of the key: nothing merges
		default:
			if o.isLate(result) {
				o.c.Fail(v, fmt.Errorf("window: merging windows of key %v into %v gives a window already past the watermark %s",
					k, result, eventtime.Format(o.wm)))
			}
			i = o.mergePanes(kp, k, g, result)
		}
		if o.isLate(result) {
			continue
		}
		skipped = false
		o.addAt(kp, i, v, ts, k, g)
	}
	return skipped
}

// mergePanes merges the panes at o.mergedIdx (ascending) of key k into one pane for window
// result and returns its index. The first pane becomes the result; the trigger moves its timers
// (OnMerge for the result, Clear for each merged window), and the merged panes' own timers
// go with them.
func (o *windowOp[T, K, ACC, OUT]) mergePanes(kp *keyPanes[ACC], k K, g int, result window.Window) int {
	idx := o.mergedIdx
	first := idx[0]
	rp := &kp.panes[first]
	o.states = append(o.states[:0], rp.trig)
	o.mergedW = append(o.mergedW[:0], rp.w)
	o.mergedT = append(o.mergedT[:0], rp.timers)
	for _, j := range idx[1:] {
		p := &kp.panes[j]
		o.states = append(o.states, p.trig)
		o.mergedW = append(o.mergedW, p.w)
		o.mergedT = append(o.mergedT, p.timers)
		if p.has {
			if rp.has {
				rp.acc = o.merge(rp.acc, p.acc)
			} else {
				rp.acc, p.acc = p.acc, rp.acc
			}
			rp.has = true
		}
		rp.dirty = rp.dirty || p.dirty
		o.releaseAcc(p.acc)
	}
	rp.w, rp.trig, rp.timers = result, 0, paneTimers{}
	if len(idx) > 1 {
		// Drop the other merged panes; the result keeps its place, the order by start holds.
		kept := kp.panes[:idx[1]]
		next := 1
		for j := idx[1]; j < len(kp.panes); j++ {
			if next < len(idx) && idx[next] == j {
				next++
				continue
			}
			kept = append(kept, kp.panes[j])
		}
		clear(kp.panes[len(kept):])
		kp.panes = kept
	}

	p := &kp.panes[first]
	o.tctx.at(k, g, result, &p.timers, &p.trig)
	o.merging.OnMerge(result, o.states, &o.tctx)
	for n, w := range o.mergedW {
		o.scratchTrig = o.states[n]
		o.tctx.at(k, g, w, &o.mergedT[n], &o.scratchTrig)
		o.trigger.Clear(w, &o.tctx)
	}
	return first
}

// Watermark fires the event-time timers the watermark reaches, then passes it on. At end of
// input (eventtime.MaxTime) it first flushes the panes still holding unevaluated records. A
// watermark below the operator's, which comes after a restore (the inputs start again from
// eventtime.MinTime), changes nothing and passes on the operator's.
func (o *windowOp[T, K, ACC, OUT]) Watermark(wm int64) {
	wm = max(wm, o.wm)
	o.wm = wm
	for {
		bk, ok := o.timers.event.due(wm)
		if !ok {
			break
		}
		for _, e := range bk.entries {
			o.onTimer(e, bk.at, EventTime)
		}
		o.timers.event.done(bk)
	}
	if wm == eventtime.MaxTime {
		o.endOfInput()
	}
	o.env.SetWatermarks(wm, wm)
	o.out.Watermark(wm)
}

func (o *windowOp[T, K, ACC, OUT]) onProcTime(at int64) {
	o.timers.procFired(at)
	now := max(at, o.c.Clock.Now().UnixMilli())
	for {
		bk, ok := o.timers.proc.due(now)
		if !ok {
			break
		}
		for _, e := range bk.entries {
			o.onTimer(e, bk.at, ProcessingTime)
		}
		o.timers.proc.done(bk)
	}
	o.timers.rearm()
}

// paneRef names a pane in failures.
type paneRef[K comparable] struct {
	key    K
	w      window.Window
	at     int64
	domain TimeDomain
}

func (r paneRef[K]) String() string {
	kind := "event-time"
	if r.domain == ProcessingTime {
		kind = "processing-time"
	}
	return fmt.Sprintf("window %v of key %v (%s timer %s)", r.w, r.key, kind, eventtime.Format(r.at))
}

// onTimer runs the trigger for a timer of a pane and, at the pane's cleanup time, drops it.
func (o *windowOp[T, K, ACC, OUT]) onTimer(e timerEntry[K], at int64, domain TimeDomain) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, paneRef[K]{e.key, e.w, at, domain})
		}
	}()
	kp := o.groups[e.group-o.first][e.key]
	if kp == nil {
		return // the key's panes are gone
	}
	i, ok := kp.find(e.w)
	if !ok {
		return // the pane was cleaned up or merged away
	}
	p := &kp.panes[i]
	if !p.timers.remove(timerRef{at, domain}) {
		return // deleted, or a duplicate that already fired
	}
	o.tctx.at(e.key, e.group, p.w, &p.timers, &p.trig)
	var r window.TriggerResult
	if domain == EventTime {
		r = o.trigger.OnEventTime(at, p.w, &o.tctx)
	} else {
		r = o.trigger.OnProcessingTime(at, p.w, &o.tctx)
	}
	if r.IsFire() {
		if err := o.fire(e.key, p); err != nil {
			o.c.Fail(paneRef[K]{e.key, e.w, at, domain}, err)
		}
	}
	if r.IsPurge() {
		o.empty(p)
	}
	if domain == o.domain && at == o.cleanupTime(p.w) {
		if domain == EventTime && o.wm == eventtime.MaxTime && p.dirty {
			// End of input: evaluate what no firing has evaluated before it is dropped.
			if err := o.fire(e.key, p); err != nil {
				o.c.Fail(paneRef[K]{e.key, e.w, at, domain}, err)
			}
		}
		o.clearPane(kp, i, e.key, e.group)
	}
}

// clearPane drops pane i of key k at its cleanup time, with the trigger's timers and state.
func (o *windowOp[T, K, ACC, OUT]) clearPane(kp *keyPanes[ACC], i int, k K, g int) {
	p := &kp.panes[i]
	o.tctx.at(k, g, p.w, &p.timers, &p.trig)
	o.trigger.Clear(p.w, &o.tctx)
	o.releaseAcc(p.acc)
	copy(kp.panes[i:], kp.panes[i+1:])
	kp.panes[len(kp.panes)-1] = windowPane[ACC]{}
	kp.panes = kp.panes[:len(kp.panes)-1]
	if len(kp.panes) == 0 {
		delete(o.groups[g-o.first], k)
		o.freeKeys = append(o.freeKeys, kp)
	}
}

// endOfInput runs at the final watermark, after its timers: event-time panes still holding
// records that no firing evaluated (a count trigger's partial group, the global window) fire;
// processing-time panes are dropped unevaluated. Either way every pane is dropped.
func (o *windowOp[T, K, ACC, OUT]) endOfInput() {
	unfired := 0
	for gi, m := range o.groups {
		for k, kp := range m {
			for i := range kp.panes {
				p := &kp.panes[i]
				if !p.dirty {
					continue
				}
				if o.eventTime {
					o.flush(k, p)
				} else {
					unfired++
				}
			}
		}
		o.groups[gi] = nil
	}
	o.freeKeys, o.spare = nil, nil
	if unfired > 0 {
		o.c.Logger.Warn("processing-time windows not fired by end of input were dropped", "panes", unfired)
	}
}

func (o *windowOp[T, K, ACC, OUT]) flush(k K, p *windowPane[ACC]) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, paneRef[K]{k, p.w, eventtime.MaxTime, EventTime})
		}
	}()
	if err := o.fire(k, p); err != nil {
		o.c.Fail(paneRef[K]{k, p.w, eventtime.MaxTime, EventTime}, err)
	}
}

// Checkpoints. The panes and timers live in the operator, not in a state backend, so the
// operator writes them itself: for each key group with panes, an operator section (package
// state/blob) called windowSection. Its body is
//
//	body    = version:byte(1) wm:varint nkeys:uvarint *keyrec ntimers:uvarint *timer
//	keyrec  = key:str npanes:uvarint *pane                     panes in the key's order
//	pane    = start:varint end:varint trig:varint flags:byte ntimers:uvarint
//	          *(at:varint domain:byte) [acc:str]               acc iff flags has paneHas
//	timer   = keyidx:uvarint paneidx:uvarint domain:byte at:varint seq:uvarint
//
// (str: a uvarint length and the bytes). Keys are encoded with state.CodecFor[K], the codec of
// keyed state, and contents with state.CodecFor[ACC]. A pane's timers are the set it holds (the
// timers that fire it); the timer records are the bucket entries that point at existing panes,
// with their index in their bucket (seq), so that timers of one time fire in the same order
// after a restore. Entries for panes that are gone are left out: a pane is never made again
// for a window once dropped (it is late by then) or merged away (a larger window covers it). wm is the subtask's watermark: the restoring subtask starts from the least
// of its key groups', so that records late before the snapshot are late after it.

// windowSection names the window operator's operator sections.
const windowSection = "window"

const windowFormat = 1

// pane flags
const (
	paneHas   = 1
	paneDirty = 2
)

// windowSnapshot is the window operator's part of a snapshot: the operator section of each
// key group, encoded when the snapshot was taken.
type windowSnapshot struct {
	r      keygroup.Range
	groups map[int][]byte
}

func (s *windowSnapshot) Range() keygroup.Range { return s.r }

func (s *windowSnapshot) AppendGroup(dst []byte, kg int) ([]byte, error) {
	body := s.groups[kg]
	if len(body) == 0 {
		return dst, nil
	}
	w := blob.Writer{Buf: dst}
	w.BeginOperator(windowSection)
	w.Raw(body)
	err := w.End()
	return w.Buf, err
}

func (s *windowSnapshot) ReleaseGroup(kg int) { delete(s.groups, kg) }
func (s *windowSnapshot) Release()            { s.groups = nil }

var (
	_ state.SnapshotPart = (*windowSnapshot)(nil)
	_ rt.Snapshotter     = (*windowOp[int, int, int, int])(nil)
)

func (o *windowOp[T, K, ACC, OUT]) codecs() {
	if o.keyCodec == nil {
		o.keyCodec, o.accCodec = state.CodecFor[K](), state.CodecFor[ACC]()
	}
}

// SnapshotState encodes every pane and timer of the subtask, per key group. It encodes them at
// once, on the task goroutine, rather than copying on write: simple, and the task may change
// its panes as soon as it returns, but the task waits for the encoding (a known cost, in
// proportion to the state; an incremental or copy-on-write snapshot would avoid it). It
// returns an error if a key or contents cannot be encoded.
func (o *windowOp[T, K, ACC, OUT]) SnapshotState(id int64) (snap rt.OperatorSnapshot, err error) {
	defer func() {
		if r := recover(); r != nil {
			var ee *state.EncodeError
			e, ok := r.(error)
			if !ok || !errors.As(e, &ee) {
				panic(r)
			}
			snap, err = rt.OperatorSnapshot{}, fmt.Errorf("stream: checkpoint %d of %s subtask %d: %w", id, o.c.Name, o.c.Subtask, e)
		}
	}()
	o.codecs()
	index := make(map[*keyPanes[ACC]]int) // the index of each key's record in its group
	keys := make([][]byte, len(o.groups))
	var buf []byte
	for gi, m := range o.groups {
		if len(m) == 0 {
			continue
		}
		b := binary.AppendUvarint(nil, uint64(len(m)))
		i := 0
		for k, kp := range m {
			index[kp] = i
			i++
			buf = o.keyCodec.Append(buf[:0], k)
			b = blob.AppendStr(b, buf)
			b = o.appendPanes(b, kp, &buf)
		}
		keys[gi] = b
	}
	timers := make([][]byte, len(o.groups))
	ntimers := make([]int, len(o.groups))
	for _, d := range []TimeDomain{EventTime, ProcessingTime} {
		bs := &o.timers.event
		if d == ProcessingTime {
			bs = &o.timers.proc
		}
		bs.each(func(at int64, seq int, e timerEntry[K]) {
			gi := e.group - o.first
			kp := o.groups[gi][e.key]
			if kp == nil {
				return // stale: the key's panes are gone
			}
			pi, ok := kp.find(e.w)
			if !ok {
				return // stale: the pane was dropped or merged away
			}
			t := binary.AppendUvarint(timers[gi], uint64(index[kp]))
			t = binary.AppendUvarint(t, uint64(pi))
			t = append(t, byte(d))
			t = binary.AppendVarint(t, at)
			timers[gi] = binary.AppendUvarint(t, uint64(seq))
			ntimers[gi]++
		})
	}
	ws := &windowSnapshot{r: o.c.KeyGroups, groups: make(map[int][]byte)}
	for gi := range o.groups {
		if keys[gi] == nil {
			continue
		}
		b := make([]byte, 0, 1+binary.MaxVarintLen64+len(keys[gi])+binary.MaxVarintLen64+len(timers[gi]))
		b = append(b, windowFormat)
		b = binary.AppendVarint(b, o.wm)
		b = append(b, keys[gi]...)
		b = binary.AppendUvarint(b, uint64(ntimers[gi]))
		ws.groups[o.first+gi] = append(b, timers[gi]...)
	}
	return rt.OperatorSnapshot{Keyed: state.NewSnapshot(ws)}, nil
}

// appendPanes appends the panes of a key record; buf is scratch space.
func (o *windowOp[T, K, ACC, OUT]) appendPanes(b []byte, kp *keyPanes[ACC], buf *[]byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(kp.panes)))
	for i := range kp.panes {
		p := &kp.panes[i]
		b = binary.AppendVarint(b, p.w.Start)
		b = binary.AppendVarint(b, p.w.End)
		b = binary.AppendVarint(b, p.trig)
		var flags byte
		if p.has {
			flags |= paneHas
		}
		if p.dirty {
			flags |= paneDirty
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(p.timers.len()))
		p.timers.each(func(r timerRef) {
			b = binary.AppendVarint(b, r.at)
			b = append(b, byte(r.domain))
		})
		if p.has {
			*buf = o.accCodec.Append((*buf)[:0], p.acc)
			b = blob.AppendStr(b, *buf)
		}
	}
	return b
}

// restore adds the panes and timers of the key groups the subtask restores, from any subset
// of the key groups of a snapshot taken at any parallelism. It returns an error wrapping
// blob.ErrCorrupt for malformed bytes, or an error when a key or contents cannot be decoded
// (their type changed incompatibly) or a key is not in the key group it was stored in.
func (o *windowOp[T, K, ACC, OUT]) restore() error {
	var ts []restoredTimer[K]
	restored := false
	wm := eventtime.MaxTime
	err := o.env.RestoredKeyGroups(func(kg int, b []byte) error {
		if !o.c.KeyGroups.Contains(kg) {
			return fmt.Errorf("key group %d is not one of the subtask's %v", kg, o.c.KeyGroups)
		}
		return blob.Sections(b, func(s blob.Section) error {
			if s.Tag != blob.TagOperator || s.Name != windowSection {
				return nil
			}
			gwm, err := o.restoreGroup(kg, s.Body, &ts)
			if err != nil {
				return fmt.Errorf("key group %d: %w", kg, err)
			}
			restored, wm = true, min(wm, gwm)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("stream: restoring %s subtask %d: %w", o.c.Name, o.c.Subtask, err)
	}
	if restored {
		o.wm = max(o.wm, wm)
	}
	o.timers.restore(ts)
	return nil
}

// restoreGroup decodes the body of key group kg's section, adds its panes and appends its
// timers to ts. It returns the watermark the section holds.
func (o *windowOp[T, K, ACC, OUT]) restoreGroup(kg int, body []byte, ts *[]restoredTimer[K]) (int64, error) {
	o.codecs()
	d := decoder{b: body}
	if v := d.byte(); d.err == nil && v != windowFormat {
		return 0, fmt.Errorf("%w: window state of format %d, this build reads %d", blob.ErrCorrupt, v, windowFormat)
	}
	wm := d.varint()
	nkeys := d.count()
	keys, kps := make([]K, 0, nkeys), make([]*keyPanes[ACC], 0, nkeys)
	m := o.groups[kg-o.first]
	if m == nil && nkeys > 0 {
		m = make(map[K]*keyPanes[ACC], nkeys)
		o.groups[kg-o.first] = m
	}
	for range nkeys {
		kb := d.str()
		if d.err != nil {
			return 0, d.err
		}
		k, err := o.keyCodec.Decode(kb)
		if err != nil {
			return 0, fmt.Errorf("key %x: %w", kb, err)
		}
		if g := keygroup.Of(o.hash(k), o.c.MaxParallelism); g != kg {
			return 0, fmt.Errorf("key %v belongs to key group %d, not %d (the key type or the number of key groups changed)", k, g, kg)
		}
		if _, dup := m[k]; dup {
			return 0, fmt.Errorf("%w: key %v restored twice", blob.ErrCorrupt, k)
		}
		kp := &keyPanes[ACC]{}
		if err := o.decodePanes(&d, kp); err != nil {
			return 0, fmt.Errorf("key %v: %w", k, err)
		}
		m[k] = kp
		keys, kps = append(keys, k), append(kps, kp)
	}
	for range d.count() {
		ki, pi := d.uvarint(), d.uvarint()
		dom := TimeDomain(d.byte())
		at, seq := d.varint(), d.uvarint()
		if d.err != nil {
			return 0, d.err
		}
		if ki >= uint64(len(kps)) || pi >= uint64(len(kps[ki].panes)) || dom > ProcessingTime || seq > math.MaxInt32 {
			return 0, fmt.Errorf("%w: bad timer record", blob.ErrCorrupt)
		}
		*ts = append(*ts, restoredTimer[K]{ref: timerRef{at, dom}, seq: int(seq),
			e: timerEntry[K]{key: keys[ki], w: kps[ki].panes[pi].w, group: kg}})
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the window state", blob.ErrCorrupt, len(d.b))
	}
	return wm, d.err
}

// decodePanes decodes the panes of a key record into kp.
func (o *windowOp[T, K, ACC, OUT]) decodePanes(d *decoder, kp *keyPanes[ACC]) error {
	n := d.count()
	kp.panes = make([]windowPane[ACC], 0, n)
	for range n {
		var p windowPane[ACC]
		p.w.Start, p.w.End, p.trig = d.varint(), d.varint(), d.varint()
		flags := d.byte()
		p.has, p.dirty = flags&paneHas != 0, flags&paneDirty != 0
		for range d.count() {
			at, dom := d.varint(), TimeDomain(d.byte())
			if dom > ProcessingTime {
				return fmt.Errorf("%w: timer of unknown domain %d", blob.ErrCorrupt, dom)
			}
			p.timers.add(timerRef{at, dom})
		}
		if p.has {
			ab := d.str()
			if d.err != nil {
				return d.err
			}
			acc, err := o.accCodec.Decode(ab)
			if err != nil {
				return fmt.Errorf("contents of window %v: %w", p.w, err)
			}
			p.acc = acc
		}
		if d.err != nil {
			return d.err
		}
		if l := len(kp.panes); l > 0 && cmpWindow(kp.panes[l-1].w, p.w) >= 0 {
			return fmt.Errorf("%w: windows %v and %v out of order", blob.ErrCorrupt, kp.panes[l-1].w, p.w)
		}
		kp.panes = append(kp.panes, p)
	}
	if n == 0 && d.err == nil {
		return fmt.Errorf("%w: a key without windows", blob.ErrCorrupt)
	}
	return d.err
}

// decoder reads the window operator's section; the first error sticks, and reads after it
// return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: window state: bad %s", blob.ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of records, each at least one byte long.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("count")
		return 0
	}
	return int(v)
}

func (d *decoder) str() []byte {
	if d.err != nil {
		return nil
	}
	s, rest, err := blob.ReadStr(d.b)
	if err != nil {
		d.fail("string")
		return nil
	}
	d.b = rest
	return s
}
