package operator

import (
	"fmt"
	"sync/atomic"

	"github.com/runnel-io/runnel/eventtime"
	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
	"github.com/runnel-io/runnel/window"
)

// This file is the window operator: Flink's WindowOperator over the pane functions (Panes) that
// its maker plugs in: package stream's WindowReduce, WindowAggregate, WindowProcess and
// WindowAggregateProcess, or a SQL planner's aggregates.
//
// With the in-memory backend, state is a map per owned key group from key to the key's panes
// (one per window, sorted by window), so that checkpoints can store and move it per key group,
// and a record costs one map look-up however many windows it falls in. For merging assigners
// the key's panes are also its merging window set (Flink's MergingWindowSet). With a bytes
// backend (Pebble) the panes and timers are states of the backend (window_store.go): the
// operator loads the panes a record or timer touches into the same keyPanes, runs the same
// code on them and writes them back. Timers are in window_timers.go. Checkpoints
// (SnapshotState, and restore in Open) are in window_snapshot.go.

// WindowConfig is what the job graph fixes for every subtask of a window operator. Make it
// with NewWindowConfig, which checks it.
type WindowConfig struct {
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

// Window is one subtask of a window operator: Flink's WindowOperator. See stream.Windowed for
// its semantics.
type Window[T any, K comparable, ACC, OUT any] struct {
	Forward[OUT]
	Funcs
	WindowConfig
	c      *rt.Context
	key    func(T) K
	hash   keygroup.Hasher[K]
	first  int        // the first owned key group
	domain TimeDomain // of the assigner: the domain of cleanup timers

	groups    []map[K]*keyPanes[ACC] // per owned key group; memory backend only
	backend   state.Backend
	bytes     *windowBytes[K, ACC] // the panes and timers with a bytes backend; nil in memory
	oneWindow []window.Window      // scratch
	elemCodec state.Codec[T]       // list panes: the codec of their records
	ebuf      []byte               // scratch
	freeKeys  []*keyPanes[ACC]
	spare     []ACC // emptied contents kept for reuse (record lists)
	timers    windowTimers[K]
	tctx      triggerCtx[K]
	// WM is the operator's watermark.
	WM            int64
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

	Panes[T, K, ACC]

	// codecs of snapshots, made at the first snapshot or restore
	keyCodec  state.Codec[K]
	accCodec  state.Codec[ACC]
	accCopied bool // snapshots copy pane contents by assignment (copiedByAssignment)
	copies    *copyPool[K, ACC]
}

// NewWindow returns a subtask of a window operator over cfg, keyed by key, with the pane
// functions p. Set Funcs to open and close a window function (Open runs after the panes are
// restored).
//
// The panes and timers live in the subtask's state backend (c.NewStateBackend): the
// operator's own tables with the in-memory backend, the backend's states with a bytes backend
// (state.BytesBackend). It returns an error if the backend cannot be made.
func NewWindow[T any, K comparable, ACC, OUT any](c *rt.Context, out rt.Output[OUT], key func(T) K, cfg WindowConfig, p Panes[T, K, ACC]) (*Window[T, K, ACC, OUT], error) {
	o := &Window[T, K, ACC, OUT]{Forward: Forward[OUT]{out}, WindowConfig: cfg, Panes: p, c: c, key: key,
		hash: keygroup.HasherFor[K](), first: c.KeyGroups.Start, WM: eventtime.MinTime}
	if !cfg.eventTime {
		o.domain = ProcessingTime
	}
	o.groups = make([]map[K]*keyPanes[ACC], c.KeyGroups.Len())
	o.timers.c = c
	o.timers.onProcTime = o.onProcTime
	o.tctx = triggerCtx[K]{timers: &o.timers, wm: &o.WM, clock: c.Clock}
	o.droppedMetric = c.Counter(metrics.LateRecordsDropped)
	if cfg.lateTag != "" {
		// Nil when no stream reads the side output: late records are then dropped and counted.
		o.late, _ = c.SideOutput(cfg.lateTag).(rt.Output[T])
	}
	var err error
	if o.backend, err = c.NewStateBackend(); err != nil {
		return nil, err
	}
	if bb, ok := o.backend.(state.BytesBackend); ok {
		if o.bytes, err = newWindowBytes[K, ACC](bb, c.KeyGroups, c.MaxParallelism); err != nil {
			return nil, err
		}
		o.groups = nil
		o.timers.event.ext, o.timers.event.domain, o.timers.event.r = o.bytes, EventTime, c.KeyGroups
		o.timers.proc.ext, o.timers.proc.domain, o.timers.proc.r = o.bytes, ProcessingTime, c.KeyGroups
		o.oneWindow = make([]window.Window, 1)
	}
	return o, nil
}

// Open restores the operator's panes and timers if the job restores a snapshot, then opens
// the user's function.
func (o *Window[T, K, ACC, OUT]) Open() error {
	if o.list {
		o.elemCodec = state.CodecFor[T]()
		if o.bytes != nil {
			// The panes hold no records: Emit reads them.
			o.bytes.listed = true
			emit := o.Emit
			o.Emit = func(k K, w window.Window, _ ACC) error {
				return emit(k, w, o.loadList(k, keygroup.Of(o.hash(k), o.c.MaxParallelism), w))
			}
		}
	}
	if err := o.restore(); err != nil {
		return err
	}
	return o.open(o.c)
}

// Close logs the late records dropped, and closes the window function.
func (o *Window[T, K, ACC, OUT]) Close() error {
	if o.nDropped > 0 {
		o.c.Logger.Warn("window operator dropped late records", "numLateRecordsDropped", o.nDropped,
			"allowedLateness", o.lateness)
	}
	return o.close()
}

func (o *Window[T, K, ACC, OUT]) cleanupTime(w window.Window) int64 {
	return window.CleanupTime(w, o.eventTime, o.lateness)
}

// isLate reports whether w is past its cleanup time: records can no longer be added to it.
func (o *Window[T, K, ACC, OUT]) isLate(w window.Window) bool {
	return o.eventTime && o.cleanupTime(w) <= o.WM
}

// bytesPanes returns the panes of key k in key group g from the bytes backend, creating them:
// those of the windows just assigned (all the key's panes for a merging assigner), loaded; save
// writes them back.
func (o *Window[T, K, ACC, OUT]) bytesPanes(k K, g int) *keyPanes[ACC] {
	if o.merging != nil {
		return o.bytes.load(k, g, nil, true)
	}
	return o.bytes.load(k, g, o.assigned, true)
}

// keyPanes returns the panes of key k in key group g, creating them (memory backend; kept
// small enough for the compiler to inline into Collect).
func (o *Window[T, K, ACC, OUT]) keyPanes(k K, g int) *keyPanes[ACC] {
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
func (o *Window[T, K, ACC, OUT]) insertPane(kp *keyPanes[ACC], i int, w window.Window) {
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
func (o *Window[T, K, ACC, OUT]) releaseAcc(acc ACC) {
	if o.Release == nil {
		return
	}
	if a, ok := o.Release(acc); ok && len(o.spare) < maxSpareContents {
		o.spare = append(o.spare, a)
	}
}

// listed reports whether pane contents are lists kept apart from the panes in a bytes backend.
func (o *Window[T, K, ACC, OUT]) listed() bool { return o.bytes != nil && o.list }

// empty drops the contents of p, key k's pane in key group g (a purge).
func (o *Window[T, K, ACC, OUT]) empty(k K, g int, p *windowPane[ACC]) {
	if o.listed() {
		o.bytes.deleteList(k, g, p.w)
	}
	if o.Reset != nil {
		p.acc = o.Reset(p.acc)
	} else {
		var zero ACC
		p.acc = zero
	}
	p.has, p.dirty = false, false
}

// Collect adds a record to its windows.
func (o *Window[T, K, ACC, OUT]) Collect(v T, ts int64) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, v)
		}
	}()
	k := o.key(v)
	g := keygroup.Of(o.hash(k), o.c.MaxParallelism)
	if !o.c.KeyGroups.Contains(g) {
		panic(fmt.Sprintf("operator: key %v of key group %d reached subtask %d which owns %v", k, g, o.c.Subtask, o.c.KeyGroups))
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
				if o.bytes != nil {
					kp = o.bytesPanes(k, g)
				} else {
					kp = o.keyPanes(k, g)
				}
			}
			i, ok := kp.find(w)
			if !ok {
				o.insertPane(kp, i, w)
			}
			o.addAt(kp, i, v, ts, k, g)
		}
		if o.bytes != nil && kp != nil {
			o.bytes.save(k, g, kp)
		}
	}
	if skipped && o.eventTime && addSaturating(ts, o.lateness) <= o.WM {
		o.lateRecord(v, ts)
	}
}

func addSaturating(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return eventtime.MaxTime
}

func (o *Window[T, K, ACC, OUT]) lateRecord(v T, ts int64) {
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
func (o *Window[T, K, ACC, OUT]) addAt(kp *keyPanes[ACC], i int, v T, ts int64, k K, g int) {
	p := &kp.panes[i]
	if o.listed() {
		o.ebuf = o.elemCodec.Append(o.ebuf[:0], v)
		o.bytes.appendElem(k, g, p.w, o.ebuf)
	} else {
		p.acc = o.Add(p.acc, p.has, v)
	}
	p.has, p.dirty = true, true
	o.tctx.at(k, g, p.w, &p.timers, &p.trig)
	r := o.trigger.OnElement(ts, p.w, &o.tctx)
	if r.IsFire() {
		if err := o.fire(k, p); err != nil {
			o.c.Fail(v, err)
		}
	}
	if r.IsPurge() {
		o.empty(k, g, p)
	}
	if at := o.cleanupTime(p.w); at != eventtime.MaxTime { // else dropped at end of input
		if r := (timerRef{at, o.domain}); p.timers.add(r) {
			o.timers.add(r, timerEntry[K]{key: k, w: p.w, group: g})
		}
	}
}

// fire evaluates p, key k's pane, if it holds anything. (With list panes in a bytes backend,
// Emit first reads the list: see Open.)
func (o *Window[T, K, ACC, OUT]) fire(k K, p *windowPane[ACC]) error {
	if !p.has {
		return nil
	}
	p.dirty = false
	return o.Emit(k, p.w, p.acc)
}

// loadList reads the records of key k's pane of w from the bytes backend.
func (o *Window[T, K, ACC, OUT]) loadList(k K, g int, w window.Window) ACC {
	var elems []T
	if n := len(o.spare); n > 0 {
		if s, ok := any(o.spare[n-1]).([]T); ok {
			elems, o.spare = s[:0], o.spare[:n-1]
		}
	}
	err := blob.Items(o.bytes.getList(k, g, w), func(_ int64, b []byte) error {
		e, err := o.elemCodec.Decode(b)
		elems = append(elems, e)
		return err
	})
	if err != nil {
		panic(fmt.Errorf("operator: reading the records of window %v of key %v: %w", w, k, err))
	}
	return any(elems).(ACC)
}

// addMerging adds v to its windows after merging each with the key's windows it intersects.
// It reports whether every window was late.
func (o *Window[T, K, ACC, OUT]) addMerging(v T, ts int64, k K, g int) (skipped bool) {
	skipped = true
	for _, nw := range o.assigned {
		var kp *keyPanes[ACC]
		if o.bytes != nil {
			kp = o.bytes.load(k, g, nil, false)
		} else if m := o.groups[g-o.first]; m != nil {
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
				if o.bytes != nil {
					kp = o.bytesPanes(k, g)
				} else {
					kp = o.keyPanes(k, g)
				}
			}
			i, _ = kp.find(nw)
			o.insertPane(kp, i, nw)
		case len(o.mergedIdx) == 1 && kp.panes[o.mergedIdx[0]].w == result:
			i = o.mergedIdx[0] // nw lies inside a window of the key: nothing merges
		default:
			if o.isLate(result) {
				o.c.Fail(v, fmt.Errorf("window: merging windows of key %v into %v gives a window already past the watermark %s",
					k, result, eventtime.Format(o.WM)))
			}
			i = o.mergePanes(kp, k, g, result)
		}
		if o.isLate(result) {
			continue
		}
		skipped = false
		o.addAt(kp, i, v, ts, k, g)
		if o.bytes != nil {
			o.bytes.save(k, g, kp)
		}
	}
	return skipped
}

// mergePanes merges the panes at o.mergedIdx (ascending) of key k into one pane for window
// result and returns its index. The first pane becomes the result; the trigger moves its timers
// (OnMerge for the result, Clear for each merged window), and the merged panes' own timers
// go with them.
func (o *Window[T, K, ACC, OUT]) mergePanes(kp *keyPanes[ACC], k K, g int, result window.Window) int {
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
				rp.acc = o.Merge(rp.acc, p.acc)
			} else {
				rp.acc, p.acc = p.acc, rp.acc
			}
			rp.has = true
		}
		rp.dirty = rp.dirty || p.dirty
		o.releaseAcc(p.acc)
	}
	if o.listed() {
		o.bytes.mergeLists(k, g, o.mergedW, result)
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
func (o *Window[T, K, ACC, OUT]) Watermark(wm int64) {
	wm = max(wm, o.WM)
	o.WM = wm
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
	o.c.SetWatermarks(wm, wm)
	o.Out.Watermark(wm)
}

func (o *Window[T, K, ACC, OUT]) onProcTime(at int64) {
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
func (o *Window[T, K, ACC, OUT]) onTimer(e timerEntry[K], at int64, domain TimeDomain) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, paneRef[K]{e.key, e.w, at, domain})
		}
	}()
	var kp *keyPanes[ACC]
	if o.bytes != nil {
		o.oneWindow[0] = e.w
		kp = o.bytes.load(e.key, e.group, o.oneWindow, false)
	} else {
		kp = o.groups[e.group-o.first][e.key]
	}
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
		o.empty(e.key, e.group, p)
	}
	if domain == o.domain && at == o.cleanupTime(p.w) {
		if domain == EventTime && o.WM == eventtime.MaxTime && p.dirty {
			// End of input: evaluate what no firing has evaluated before it is dropped.
			if err := o.fire(e.key, p); err != nil {
				o.c.Fail(paneRef[K]{e.key, e.w, at, domain}, err)
			}
		}
		o.clearPane(kp, i, e.key, e.group)
	}
	if o.bytes != nil {
		o.bytes.save(e.key, e.group, kp)
	}
}

// clearPane drops pane i of key k at its cleanup time, with the trigger's timers and state.
func (o *Window[T, K, ACC, OUT]) clearPane(kp *keyPanes[ACC], i int, k K, g int) {
	p := &kp.panes[i]
	o.tctx.at(k, g, p.w, &p.timers, &p.trig)
	o.trigger.Clear(p.w, &o.tctx)
	o.releaseAcc(p.acc)
	if o.listed() && p.has {
		o.bytes.deleteList(k, g, p.w)
	}
	copy(kp.panes[i:], kp.panes[i+1:])
	kp.panes[len(kp.panes)-1] = windowPane[ACC]{}
	kp.panes = kp.panes[:len(kp.panes)-1]
	if len(kp.panes) == 0 && o.bytes == nil {
		delete(o.groups[g-o.first], k)
		o.freeKeys = append(o.freeKeys, kp)
	}
}

// endOfInput runs at the final watermark, after its timers: event-time panes still holding
// records that no firing evaluated (a count trigger's partial group, the global window) fire;
// processing-time panes are dropped unevaluated. Either way every pane is dropped.
func (o *Window[T, K, ACC, OUT]) endOfInput() {
	unfired := 0
	if o.bytes != nil {
		o.bytes.forAllAndClear(func(k K, g int, p *windowPane[ACC]) {
			switch {
			case !p.dirty:
			case o.eventTime:
				o.flush(k, g, p)
			default:
				unfired++
			}
		})
		o.spare = nil
		if unfired > 0 {
			o.c.Logger.Warn("processing-time windows not fired by end of input were dropped", "panes", unfired)
		}
		return
	}
	for gi, m := range o.groups {
		for k, kp := range m {
			for i := range kp.panes {
				p := &kp.panes[i]
				if !p.dirty {
					continue
				}
				if o.eventTime {
					o.flush(k, o.first+gi, p)
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

func (o *Window[T, K, ACC, OUT]) flush(k K, g int, p *windowPane[ACC]) {
	defer func() {
		if r := recover(); r != nil {
			o.c.Recovered(r, paneRef[K]{k, p.w, eventtime.MaxTime, EventTime})
		}
	}()
	if err := o.fire(k, p); err != nil {
		o.c.Fail(paneRef[K]{k, p.w, eventtime.MaxTime, EventTime}, err)
	}
}
