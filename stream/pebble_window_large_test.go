package stream_test

// The acceptance test of window state in the state backend: a window job whose panes hold
// several times the memory the process may use runs to completion on Pebble, with the results
// of an independent batch computation, and the process stays under its limit. Like
// pebble_large_test.go, the job runs in a child process (this test binary re-executed) so that
// its memory limit and its peak RSS are its own. Helpers are prefixed plw.

import (
	"bufio"
	"context"
	"fmt"
	"hash/crc64"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/statebackend/pebble"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

const (
	// plwChildEnv selects the child role of TestPebbleWindowStateChild.
	plwChildEnv = "RUNNEL_PEBBLE_WINDOW_CHILD"
	// plwLimit is the child's memory limit (debug.SetMemoryLimit and GOMEMLIMIT).
	plwLimit = 96 << 20
	// plwKeys keys get two records each; every record falls into plwSize/plwSlide = 4 sliding
	// windows, and the panes keep the records (WindowProcess), so the state before the end of
	// input is 4 × 140,000 records of plwPayload bytes: about 290 MiB, three times plwLimit.
	plwKeys    = 70_000
	plwPayload = 512
	plwSize    = 4000 // ms
	plwSlide   = 1000 // ms
	plwResult  = "PEBBLE_WINDOW_STATE"
)

// plwRec is an input record: the occ-th (0 or 1) record of Key, at TS.
type plwRec struct {
	Key     uint64
	Occ     uint8
	TS      int64
	Payload []byte
}

// plwRecord returns record n of the input.
func plwRecord(n int64) plwRec {
	key, occ := uint64(n%plwKeys), uint8(n/plwKeys)
	p := plsPayloadOf(key, occ)[:plwPayload]
	return plwRec{Key: key, Occ: occ, TS: int64(occ)*1500 + int64(key%997), Payload: p}
}

// plwPaneSum is a pane's result folded to a number: the same for the same records in any order.
func plwPaneSum(key uint64, start int64, payloads [][]byte) uint64 {
	var s uint64
	for _, p := range payloads {
		s += plsMix(key^uint64(start)<<20, crc64.Checksum(p, plsTable))
	}
	return plsMix(uint64(len(payloads)), s)
}

// plwOut is what a pane emits.
type plwOut struct {
	Key   uint64
	Start int64
	Sum   uint64
}

// plwNoWatermarks gives records their timestamps but no watermark until the end of input, so
// every pane stays open and the state grows to its whole size.
type plwNoWatermarks struct{}

func (plwNoWatermarks) OnEvent(plwRec, int64) {}
func (plwNoWatermarks) Watermark() int64      { return eventtime.MinTime }

// plwSummary folds the results into a count and a sum.
type plwSummary struct {
	mu     sync.Mutex
	n, sum uint64
}

func (s *plwSummary) NewWriter(context.Context, connector.SinkContext) (connector.Writer[plwOut], error) {
	return s, nil
}

func (s *plwSummary) Write(_ context.Context, v plwOut, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.sum += plsMix(v.Key, v.Sum)
	return nil
}

func (s *plwSummary) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	return nil, nil
}

func (s *plwSummary) Close() error { return nil }

// TestPebbleWindowStateChild is the child role of TestPebbleWindowState.
func TestPebbleWindowStateChild(t *testing.T) {
	if os.Getenv(plwChildEnv) != "1" {
		t.Skip("the child of TestPebbleWindowState; runs only when started by it")
	}
	debug.SetMemoryLimit(plwLimit)
	base, err := plsProcStatus("VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	src, err := datagen.New(plwRecord, datagen.Config{Count: 2 * plwKeys})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("pebble-window-state", stream.Config{
		Parallelism:  2,
		StateBackend: pebble.Factory(t.TempDir(), 8<<20),
	})
	var stored atomic.Int64
	sum := &plwSummary{}
	strategy := eventtime.Custom(func(r plwRec) int64 { return r.TS },
		func() eventtime.Generator[plwRec] { return plwNoWatermarks{} })
	in := stream.FromSource(env, src, strategy)
	in = stream.Map(in, func(r plwRec) plwRec {
		stored.Add(plwSize / plwSlide * int64(len(r.Payload)))
		return r
	})
	windows := stream.Window(stream.KeyBy(in, func(r plwRec) uint64 { return r.Key }),
		window.SlidingEventTime(plwSize*time.Millisecond, plwSlide*time.Millisecond))
	stream.WindowProcess(windows, stream.ProcessWindowFunc[uint64, plwRec, plwOut](
		func(ctx *stream.WindowContext[uint64], rs []plwRec, out stream.Collector[plwOut]) error {
			ps := make([][]byte, len(rs))
			for i, r := range rs {
				ps[i] = r.Payload
			}
			out.Collect(plwOut{Key: ctx.Key(), Start: ctx.Window().Start, Sum: plwPaneSum(ctx.Key(), ctx.Window().Start, ps)})
			return nil
		})).SinkTo(sum)
	if err := env.Execute(t.Context()); err != nil {
		t.Fatal(err)
	}
	hwm, err := plsProcStatus("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s stored=%d base=%d vmhwm=%d results=%d sum=%d seconds=%.1f\n", plwResult,
		stored.Load(), base, hwm, sum.n, sum.sum, time.Since(start).Seconds())
}

// plwWant computes the job's results from the generator, by plain loops: every sliding window
// of every record, its records, and the fold of each pane.
func plwWant() (n, sum uint64) {
	type pane struct {
		key   uint64
		start int64
	}
	panes := map[pane][][]byte{}
	for i := range int64(2 * plwKeys) {
		r := plwRecord(i)
		last := r.TS - r.TS%plwSlide // the latest window start at or before TS (TS >= 0)
		for start := last; start > r.TS-plwSize; start -= plwSlide {
			p := pane{r.Key, start}
			panes[p] = append(panes[p], r.Payload)
		}
	}
	for p, ps := range panes {
		n++
		sum += plsMix(p.key, plwPaneSum(p.key, p.start, ps))
	}
	return n, sum
}

// TestPebbleWindowState runs a window job whose panes on Pebble hold about three times the
// process's memory limit, in a child process, and checks its results against a batch
// computation, the state's size and the child's peak RSS.
func TestPebbleWindowState(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the child's peak RSS from /proc")
	}
	if os.Getenv(plwChildEnv) != "" || os.Getenv(plsChildEnv) != "" {
		t.Skip("already a child")
	}
	if plsRace() {
		t.Skip("measures memory and time; meaningless under the race detector")
	}
	if testing.Short() {
		t.Skip("a minute of Pebble I/O")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPebbleWindowStateChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), plwChildEnv+"=1", fmt.Sprintf("GOMEMLIMIT=%dMiB", plwLimit>>20))
	cmd.Stderr = os.Stderr
	outBytes, err := cmd.Output()
	output := string(outBytes)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, output)
	}
	var got struct {
		stored, base, vmhwm int64
		results, sum        uint64
		seconds             float64
		found               bool
	}
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), plwResult+" ") {
			continue
		}
		_, err := fmt.Sscanf(sc.Text(), plwResult+" stored=%d base=%d vmhwm=%d results=%d sum=%d seconds=%g",
			&got.stored, &got.base, &got.vmhwm, &got.results, &got.sum, &got.seconds)
		if err != nil {
			t.Fatalf("parsing %q: %v", sc.Text(), err)
		}
		got.found = true
	}
	if !got.found {
		t.Fatalf("the child printed no %s line:\n%s", plwResult, output)
	}
	t.Logf("window state %d MiB (%.2f× the %d MiB limit), RSS %d MiB before the job and %d MiB at peak, job %.1fs, test %v",
		got.stored>>20, float64(got.stored)/plwLimit, plwLimit>>20, got.base>>20, got.vmhwm>>20, got.seconds,
		time.Since(start).Round(100*time.Millisecond))

	wantN, wantSum := plwWant()
	if got.results != wantN || got.sum != wantSum {
		t.Errorf("results: %d panes (want %d), sum %d (want %d)", got.results, wantN, got.sum, wantSum)
	}
	if got.stored < 5*plwLimit/2 {
		t.Errorf("window state holds %d MiB, less than 2.5 times the %d MiB limit", got.stored>>20, plwLimit>>20)
	}
	// As in TestPebbleLargeState, RSS holds the test binary and runtime (about 43 MiB before the
	// job) and Pebble's manually managed memory (up to about 24 MiB per subtask) besides the Go
	// heap, which stays at 5 to 13 MiB (gctrace). Measured peaks were 137 to 140 MiB on a 2-core
	// linux/amd64 machine; the bound, the limit and two thirds again (160 MiB), leaves room for
	// noise and fails if the panes (about 275 MiB) were kept in memory.
	if bound := int64(plwLimit) * 5 / 3; got.vmhwm > bound {
		t.Errorf("peak RSS %d MiB is over %d MiB (the %d MiB limit and two thirds again)", got.vmhwm>>20, bound>>20, plwLimit>>20)
	}
}
