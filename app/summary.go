package app

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/metrics"
)

// totals are what a job did, from one metrics snapshot: the records its sources emitted and
// its sinks took in (summed over subtasks, per operator in the order of the job graph), the
// records its operators dropped as late (metrics.LateRecordsDropped) and dead-lettered
// (metrics.DeadLettered). The counts are those of the current run: a restart after a failure
// starts them again.
type totals struct {
	read, written  int64
	sources, sinks []operatorTotal
	late           int64
	deadLettered   int64
	// deadCounted says an operator counts dead letters; without one the job cannot tell.
	deadCounted bool
	restarts    int
}

// operatorTotal is the records of one source or sink.
type operatorTotal struct {
	name    string
	records int64
}

// plan is what the summary needs of the job graph: its sources and sinks by node ID, in order.
type plan struct {
	sources, sinks []planNode
}

type planNode struct {
	id   int
	name string
}

// totalsOf sums snap over p.
func totalsOf(p plan, snap metrics.Snapshot) totals {
	in, out := map[int]int64{}, map[int]int64{}
	var t totals
	for _, o := range snap.Operators {
		in[o.ID] += o.RecordsIn
		out[o.ID] += o.RecordsOut
		t.late += o.Counters[metrics.LateRecordsDropped]
		if n, ok := o.Counters[metrics.DeadLettered]; ok {
			t.deadLettered += n
			t.deadCounted = true
		}
	}
	for _, n := range p.sources {
		t.sources = append(t.sources, operatorTotal{n.name, out[n.id]})
		t.read += out[n.id]
	}
	for _, n := range p.sinks {
		t.sinks = append(t.sinks, operatorTotal{n.name, in[n.id]})
		t.written += in[n.id]
	}
	if snap.Checkpoints != nil {
		t.restarts = snap.Checkpoints.Restarts
	}
	return t
}

// print writes the summary of the job name, which ended as ended ("finished", "stopped") after
// elapsed: a line of totals, then one line per source and sink.
//
//	job iot finished in 1.2s: read 6,000 records, wrote 1,210, dropped 3 late
//	  read   readings             6,000
//	  wrote  print alerts            10
//	  wrote  print sensor-max     1,200
func (t totals) print(w io.Writer, name, ended string, elapsed time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s %s in %v: read %s records, wrote %s, dropped %s late", name, ended,
		elapsed.Round(time.Millisecond), cli.Thousands(t.read), cli.Thousands(t.written), cli.Thousands(t.late))
	if t.deadCounted {
		fmt.Fprintf(&b, ", dead-lettered %s", cli.Thousands(t.deadLettered))
	}
	if t.restarts > 0 {
		fmt.Fprintf(&b, " (since the last of %d restarts)", t.restarts)
	}
	b.WriteByte('\n')
	nameW, numW := 0, 0
	for _, s := range append(slices.Clone(t.sources), t.sinks...) {
		nameW, numW = max(nameW, utf8.RuneCountInString(s.name)), max(numW, len(cli.Thousands(s.records)))
	}
	for _, s := range t.sources {
		fmt.Fprintf(&b, "  read   %-*s  %*s\n", nameW, s.name, numW, cli.Thousands(s.records))
	}
	for _, s := range t.sinks {
		fmt.Fprintf(&b, "  wrote  %-*s  %*s\n", nameW, s.name, numW, cli.Thousands(s.records))
	}
	io.WriteString(w, b.String())
}
