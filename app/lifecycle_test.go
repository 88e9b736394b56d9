package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/internal/testing/crashtest"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// The lifecycle test drives one checkpoint location through random sequences of what users
// (and the coming service) do with a job: start it, SIGKILL it, stop it with a savepoint,
// resume it with --restore latest, roll it back to an older savepoint with --from-savepoint,
// rescale it, start it fresh on the old location, and try to start a second job on the
// location while one runs. The job runs in a child process (this test binary through app.Run,
// the code path of `runnel run`), writing to the exactly-once file sink.
//
// The model: the uninterrupted run's output U is known in closed form (lifecycleOutput). A
// lineage that starts from a snapshot covering the lines P produces exactly U minus P; output
// committed by lineages given up (a fresh start or a rollback) stays, as in Flink. So the
// committed output is always Base (everything committed before the current lineage started)
// plus a part of U minus P without repeats, in which each key's running sums are contiguous;
// and once the lineage finishes, exactly Base plus U minus P. A stop-with-savepoint S records
// P(S), the lines committed up to it, so a later rollback to S knows its P.
//
// RUNNEL_LIFECYCLE_SEEDS=n runs n seeds instead of 3 (the long mode, by hand).

const (
	lifecycleChildEnv = "RUNNEL_LIFECYCLE_CHILD"
	lcRecords         = 24000
	lcKeys            = 12 // a multiple of every parallelism used, so each key's numbers are in one split
	lcRate            = 8000
)

// lifecycleJob is the job: numbers 0..lcRecords-1 at lcRate per second, keyed by n mod
// lcKeys; per key a running sum and count (keyed state), and a sum and count per second of
// event time (window state and timers); both as lines into the file sink at out.
func lifecycleJob(out string) func(env *stream.Env) error {
	type acc struct{ Key, Sum, Count int64 }
	return func(env *stream.Env) error {
		src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Count: lcRecords, Rate: lcRate, BatchSize: 16})
		if err != nil {
			return err
		}
		nums := stream.FromSource[int64](env, src, eventtime.Monotonous(func(n int64) int64 { return n })).Uid("numbers")
		one := func(n int64) acc { return acc{Key: n % lcKeys, Sum: n, Count: 1} }
		add := func(a, b acc) acc { return acc{Key: a.Key, Sum: a.Sum + b.Sum, Count: a.Count + b.Count} }
		key := func(a acc) int64 { return a.Key }
		sums := stream.Reduce(stream.KeyBy(stream.Map(nums, one), key), add).Uid("sums")
		wins := stream.WindowReduce(stream.Window(stream.KeyBy(stream.Map(nums, one), key), window.TumblingEventTime(time.Second)), add).Uid("windows")
		lines := stream.Map(sums, func(a acc) string { return fmt.Sprintf("sum %d %d %d", a.Key, a.Count, a.Sum) }).
			Union(stream.Map(wins, func(a acc) string { return fmt.Sprintf("win %d %d %d", a.Key, a.Count, a.Sum) }))
		sink, err := file.NewSink(file.SinkConfig[string]{Dir: out, Encode: func(dst []byte, s string) []byte { return append(append(dst, s...), '\n') }})
		if err != nil {
			return err
		}
		lines.SinkTo(sink).Uid("sink")
		return nil
	}
}

// lifecycleOutput computes the uninterrupted run's output directly: per key every running sum
// and every window's sum.
func lifecycleOutput() map[string]bool {
	out := map[string]bool{}
	type win struct{ key, sec int64 }
	sums, counts := map[int64]int64{}, map[int64]int64{}
	wsum, wcount := map[win]int64{}, map[win]int64{}
	for n := range int64(lcRecords) {
		k := n % lcKeys
		sums[k] += n
		counts[k]++
		out[fmt.Sprintf("sum %d %d %d", k, counts[k], sums[k])] = true
		w := win{k, n / 1000}
		wsum[w] += n
		wcount[w]++
	}
	for w, s := range wsum {
		out[fmt.Sprintf("win %d %d %d", w.key, wcount[w], s)] = true
	}
	return out
}

func TestLifecycleChild(t *testing.T) {
	if os.Getenv(lifecycleChildEnv) == "" {
		t.Skip("run by TestLifecycle")
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(lifecycleChildEnv)), &args); err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("RUNNEL_LIFECYCLE_OUT")
	os.Exit(app.Run(context.Background(), "lifecycle", args, lifecycleJob(out), os.Stdout, os.Stderr))
}

// child is one run of the job in a child process.
type child struct {
	*crashtest.Child
	ckpted chan struct{} // a checkpoint completed (buffered one)
	addr   chan string   // the REST API's address, once
	held   chan struct{} // closed when the job holds its checkpoint location and started its lineage
}

var (
	addrRE = regexp.MustCompile(`msg="REST API listening".* address=(\S+)`)
	heldRE = regexp.MustCompile(`msg="checkpoint location held"`)
	ckptRE = regexp.MustCompile(`msg="snapshot complete".* savepoint=false`)
)

func startChild(t *testing.T, out string, args ...string) *child {
	t.Helper()
	enc, _ := json.Marshal(args)
	c := &child{ckpted: make(chan struct{}, 1), addr: make(chan string, 1), held: make(chan struct{})}
	var once sync.Once
	cmd := crashtest.Command("TestLifecycleChild", lifecycleChildEnv+"="+string(enc), "RUNNEL_LIFECYCLE_OUT="+out)
	c.Child = crashtest.Start(t, cmd, func(line string) {
		if m := addrRE.FindStringSubmatch(line); m != nil {
			c.addr <- m[1]
		}
		if heldRE.MatchString(line) {
			once.Do(func() { close(c.held) })
		}
		if ckptRE.MatchString(line) {
			select {
			case c.ckpted <- struct{}{}:
			default:
			}
		}
	})
	return c
}

func (c *child) logs() string { return c.Output() }

// kill SIGKILLs the child and waits for it; it reports false if the child had ended already.
func (c *child) kill() bool {
	select {
	case <-c.Exited:
		return false
	default:
	}
	c.Kill()
	<-c.Exited
	return c.SIGKILLed()
}

// wait waits for the child to end by itself and returns its exit code.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-c.Exited:
	case <-time.After(2 * time.Minute):
		c.kill()
		t.Fatalf("the child did not end within 2 minutes:\n%s", c.logs())
	}
	return c.ExitCode()
}

// started waits until the child holds the checkpoint location and started its lineage, and
// returns its REST address; "" if it ended first.
func (c *child) started(t *testing.T) string {
	t.Helper()
	timeout := time.After(time.Minute)
	var addr string
	select {
	case addr = <-c.addr:
	case <-c.Exited:
		return ""
	case <-timeout:
		t.Fatalf("no REST address within a minute:\n%s", c.logs())
	}
	select {
	case <-c.held:
		return addr
	case <-c.Exited:
		return ""
	case <-timeout:
		t.Fatalf("the job did not take its checkpoint location within a minute:\n%s", c.logs())
		return ""
	}
}

// lcModel is the test's knowledge of what the location's output must be.
type lcModel struct {
	u    map[string]bool
	base map[string]int  // committed before the current lineage started
	p    map[string]bool // covered by the snapshot the current lineage started from
	done bool            // the current lineage finished its input
}

// savepoint is a completed stop-with-savepoint and what it covers.
type savepoint struct {
	loc string
	p   map[string]bool
}

func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	u := lifecycleOutput()
	seeds := 3
	if s := os.Getenv("RUNNEL_LIFECYCLE_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	counts := map[string]int{}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			for k, v := range lifecycleSequence(t, uint64(seed), u) {
				counts[k] += v
			}
		})
	}
	t.Logf("over %d seeds: %v", seeds, counts)
}

// lifecycleSequence runs one random sequence and returns how often each step ran.
func lifecycleSequence(t *testing.T, seed uint64, u map[string]bool) map[string]int {
	rng := rand.New(rand.NewPCG(seed, 11))
	dir := t.TempDir()
	out, ckpt, sps := filepath.Join(dir, "out"), filepath.Join(dir, "ckpt"), filepath.Join(dir, "savepoints")
	m := &lcModel{u: u, base: map[string]int{}, p: map[string]bool{}}
	var savepoints []savepoint
	steps := map[string]int{}
	lastP := 0 // the parallelism of the lineage's last run
	common := func(extra ...string) []string {
		p := []int{1, 2, 3, 4}[rng.IntN(4)]
		if len(extra) > 0 && extra[0] == "--restore" && lastP != 0 && p != lastP {
			steps["rescale on resume"]++
		}
		lastP = p
		return append([]string{"--checkpoint-dir", ckpt, "--checkpoint-interval", "100ms", "--rest-address", "127.0.0.1:0",
			"--parallelism", strconv.Itoa(p), "--progress-interval", "0"}, extra...)
	}
	// newLineage: the committed output so far becomes the base, and the lineage starts from p.
	newLineage := func(p map[string]bool) {
		m.base = countLines(t, out)
		m.p = p
		m.done = false
	}
	// run starts a child with args, lets it run until it completed a checkpoint of its own or
	// a while, then ends it as end says: "kill", "early" (killed before its first checkpoint),
	// "stop" (stop with a savepoint), "stopkill" (SIGKILL as soon as the savepoint is there).
	run := func(end string, args ...string) {
		t.Helper()
		a := common(args...)
		t.Logf("run %v, then %s", a[6:], end)
		c := startChild(t, out, a...)
		addr := c.started(t)
		if addr == "" {
			m.finished(t, c, out)
			return
		}
		// Another job on the same location, now and then: refused, naming the holder.
		if rng.IntN(4) == 0 {
			steps["second job refused"]++
			second := startChild(t, out, common("--restore", "latest")...)
			if code := second.wait(t); code != 1 || !strings.Contains(second.logs(), "location in use") {
				t.Fatalf("a second job on the location: exit %d, want 1 and \"location in use\":\n%s", code, second.logs())
			}
		}
		if end == "early" {
			if !c.kill() {
				m.finished(t, c, out)
			}
			return
		}
		select {
		case <-c.ckpted:
		case <-c.Exited:
		case <-time.After(time.Duration(rng.IntN(300)) * time.Millisecond):
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // a random moment of the run, not a synchronization
		switch end {
		case "kill":
			if !c.kill() {
				m.finished(t, c, out)
			}
		case "stop", "stopkill":
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			loc, err := app.Savepoint(ctx, addr, app.SavepointRequest{TargetDirectory: sps, Stop: true})
			cancel()
			if err != nil {
				select {
				case <-c.Exited: // it finished first
					m.finished(t, c, out)
					return
				default:
					t.Fatalf("stop with savepoint: %v\n%s", err, c.logs())
				}
			}
			if end == "stopkill" {
				c.kill()
				return
			}
			if code := c.wait(t); code != 0 {
				t.Fatalf("the job stopped with a savepoint exited %d:\n%s", code, c.logs())
			}
			cur := m.check(t, out, "after a stop with savepoint", true)
			p := maps.Clone(m.p)
			for l := range cur {
				p[l] = true
			}
			savepoints = append(savepoints, savepoint{loc: loc, p: p})
		}
	}
	for step := 0; step < 10 && !m.done; step++ {
		ends := []string{"kill", "kill", "stop", "stopkill", "early"}
		end := ends[rng.IntN(len(ends))]
		switch r := rng.IntN(10); {
		case r < 6 || step == 0:
			steps["resume latest, then "+end]++
			run(end, "--restore", "latest")
		case r < 8 && len(savepoints) > 0:
			sp := savepoints[rng.IntN(len(savepoints))]
			steps["roll back to a savepoint, then "+end]++
			newLineage(sp.p)
			run(end, "--from-savepoint", sp.loc)
		default:
			steps["fresh start, then "+end]++
			newLineage(map[string]bool{})
			run(end)
		}
		if !m.done {
			m.check(t, out, fmt.Sprintf("after step %d", step), false)
		}
	}
	if !m.done {
		steps["resume latest to the end"]++
		c := startChild(t, out, common("--restore", "latest")...)
		m.finished(t, c, out)
	}
	return steps
}

// finished checks the end of a lineage: the child exits 0 and the committed output is exactly
// the base plus U minus P.
func (m *lcModel) finished(t *testing.T, c *child, out string) {
	t.Helper()
	if code := c.wait(t); code != 0 {
		t.Fatalf("the job failed (exit %d):\n%s", code, c.logs())
	}
	m.done = true
	want := maps.Clone(m.base)
	for l := range m.u {
		if !m.p[l] {
			want[l]++
		}
	}
	got := countLines(t, out)
	if d := diffCounts(got, want); d != "" {
		t.Logf("the last run's log:\n%s", c.logs())
		t.Fatalf("the finished lineage's output is not the base plus the uninterrupted run's rest: %s", d)
	}
}

// check checks the committed output in the middle of a lineage and returns what the current
// lineage committed: base plus lines of U minus P, none twice. With settled (every sink
// committed the last snapshot: after a stop with savepoint) each key's running sums are also
// contiguous from where P left them; after a SIGKILL they need not be until the restore
// commits the rest of the restored checkpoint.
func (m *lcModel) check(t *testing.T, out, when string, settled bool) map[string]bool {
	t.Helper()
	got := countLines(t, out)
	cur := map[string]bool{}
	for l, n := range got {
		n -= m.base[l]
		switch {
		case n < 0:
			t.Fatalf("%s: %q committed %d times, fewer than before the lineage started: output lost", when, l, n+m.base[l])
		case n == 0:
			continue
		case n > 1 || !m.u[l] || m.p[l]:
			t.Fatalf("%s: %q committed %d more times by the current lineage (in U: %t, covered by its start: %t)", when, l, n, m.u[l], m.p[l])
		}
		cur[l] = true
	}
	if !settled {
		return cur
	}
	// Running sums per key: the counts the lineage committed follow the start's without a gap.
	last := map[string]int{}
	for l := range m.p {
		if f := strings.Fields(l); f[0] == "sum" {
			c, _ := strconv.Atoi(f[2])
			last[f[1]] = max(last[f[1]], c)
		}
	}
	seen := map[string][]int{}
	for l := range cur {
		if f := strings.Fields(l); f[0] == "sum" {
			c, _ := strconv.Atoi(f[2])
			seen[f[1]] = append(seen[f[1]], c)
		}
	}
	for k, cs := range seen {
		slices.Sort(cs)
		for i, c := range cs {
			if c != last[k]+i+1 {
				t.Fatalf("%s: key %s's running sums committed by the lineage are %v..., want contiguous from %d: output lost", when, k, cs[:min(len(cs), 8)], last[k]+1)
			}
		}
	}
	return cur
}

// countLines counts every committed line below dir (hidden files are the sink's uncommitted
// ones).
func countLines(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) && p == dir {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for l := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l != "" {
				out[l]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffCounts(got, want map[string]int) string {
	var missing, extra []string
	for l, n := range want {
		if got[l] < n {
			missing = append(missing, fmt.Sprintf("%s (x%d)", l, n-got[l]))
		}
	}
	for l, n := range got {
		if want[l] < n {
			extra = append(extra, fmt.Sprintf("%s (x%d)", l, n-want[l]))
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return fmt.Sprintf("%d missing (first %v), %d extra (first %v)", len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
}
