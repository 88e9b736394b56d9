package snapshot_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata scripts")

// TestCoordinatorScripts runs the scripts in testdata/coordinator, in the manner of
// cockroachdb/datadriven: each case is a command, a line "----" and the expected output, up to a
// blank line; lines starting with # between cases are comments. go test -run
// TestCoordinatorScripts -update rewrites the expected output. Commands:
//
//	new interval=MS min-pause=MS timeout=MS tolerable=N concurrent=N tasks=N/S,N/S,...
//	tick MS                           Tick at MS milliseconds since the epoch
//	ack ID TASK... [size=N]           Ack from each TASK, the handle sized N
//	ack-all ID [size=N]               Ack from every task
//	decline ID TASK [not-ready] MSG   Decline; not-ready wraps ErrTaskNotReady
//	finalized ID | finalize-failed ID MSG
//	savepoint MS DIR | stop-savepoint MS DIR
//	task-failed MSG | stop | set-next-id N | stats
//
// Besides the golden output, every script checks the coordinator's ordering promises: Trigger,
// Finalize and NotifyComplete IDs each strictly increase over the whole script.
func TestCoordinatorScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/coordinator/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t}
	var out bytes.Buffer
	lines := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cmdLine := i + 1
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command %q is not followed by ----", file, cmdLine, line)
		}
		i += 2
		var want []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			want = append(want, lines[i])
		}
		i-- // let the loop see the blank line
		got := h.run(line)
		if len(got) == 0 {
			got = []string{"(no actions)"}
		}
		out.WriteString(line + "\n----\n" + strings.Join(got, "\n") + "\n")
		if !*update && !slices.Equal(got, want) {
			t.Errorf("%s:%d: %s\n got:\n  %s\n want:\n  %s", file, cmdLine, line,
				strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	if *update {
		if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type harness struct {
	t     *testing.T
	c     *snapshot.Coordinator
	tasks []snapshot.TaskID
	// the last IDs seen per kind of action, to check they increase
	lastTrigger, lastFinalize, lastNotify int64
}

// sized is a test snapshot handle that reports its size.
type sized int64

func (s sized) Size() int64 { return int64(s) }

func (h *harness) run(line string) []string {
	h.t.Helper()
	fields := strings.Fields(line)
	cmd, args := fields[0], fields[1:]
	kv := map[string]string{}
	var pos []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	if cmd == "new" {
		return h.create(kv)
	}
	if h.c == nil {
		h.t.Fatalf("%s: no coordinator: start the script with new", line)
	}
	var acts []snapshot.Action
	var pre []string
	switch cmd {
	case "tick":
		acts = h.c.Tick(at(h.t, pos[0]))
	case "ack", "ack-all":
		id := num(h.t, pos[0])
		var handle any = struct{}{}
		if s, ok := kv["size"]; ok {
			handle = sized(num(h.t, s))
		}
		tasks := h.tasks
		if cmd == "ack" {
			tasks = nil
			for _, p := range pos[1:] {
				tasks = append(tasks, task(h.t, p))
			}
		}
		for _, tk := range tasks {
			acts = append(acts, h.c.Ack(id, tk, handle)...)
		}
	case "decline":
		err := errors.New(strings.Join(pos[2:], " "))
		if len(pos) > 2 && pos[2] == "not-ready" {
			err = fmt.Errorf("%w: %s", snapshot.ErrTaskNotReady, strings.Join(pos[3:], " "))
		}
		acts = h.c.Decline(num(h.t, pos[0]), task(h.t, pos[1]), err)
	case "finalized":
		acts = h.c.Finalized(num(h.t, pos[0]))
	case "finalize-failed":
		acts = h.c.FinalizeFailed(num(h.t, pos[0]), errors.New(strings.Join(pos[1:], " ")))
	case "savepoint", "stop-savepoint":
		trigger := h.c.TriggerSavepoint
		if cmd == "stop-savepoint" {
			trigger = h.c.StopWithSavepoint
		}
		dir := ""
		if len(pos) > 1 {
			dir = pos[1]
		}
		id, a, err := trigger(at(h.t, pos[0]), dir)
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		pre = []string{fmt.Sprintf("requested %d", id)}
		acts = a
	case "task-failed":
		acts = h.c.TaskFailed(errors.New(strings.Join(pos, " ")))
	case "stop":
		acts = h.c.Stop()
	case "set-next-id":
		h.c.SetNextID(num(h.t, pos[0]))
		return []string{fmt.Sprintf("next id %d", h.c.NextID())}
	case "stats":
		s := h.c.Stats()
		return []string{fmt.Sprintf("completed=%d failed=%d in-flight=%d queued=%d consecutive=%d last-id=%d last-duration=%v last-size=%d",
			s.Completed, s.Failed, s.InFlight, s.Queued, s.ConsecutiveFailures, s.LastCompletedID, s.LastDuration, s.LastSize)}
	default:
		h.t.Fatalf("unknown command %q", cmd)
	}
	return append(pre, h.format(acts)...)
}

func (h *harness) create(kv map[string]string) []string {
	ms := func(k string) time.Duration { return time.Duration(num(h.t, kv[k])) * time.Millisecond }
	n := func(k string) int { return int(num(h.t, kv[k])) }
	cfg := snapshot.Config{
		Interval: ms("interval"), MinPause: ms("min-pause"), Timeout: ms("timeout"),
		TolerableFailures: n("tolerable"), MaxConcurrent: n("concurrent"),
	}
	h.tasks = nil
	for _, s := range strings.Split(kv["tasks"], ",") {
		h.tasks = append(h.tasks, task(h.t, s))
	}
	c, err := snapshot.NewCoordinator(cfg, h.tasks)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	h.c = c
	h.lastTrigger, h.lastFinalize, h.lastNotify = 0, 0, 0
	return []string{"ok"}
}

func (h *harness) format(acts []snapshot.Action) []string {
	var out []string
	increasing := func(last *int64, id int64, what string) {
		if id <= *last {
			h.t.Errorf("%s %d after %s %d: IDs must increase", what, id, what, *last)
		}
		*last = id
	}
	for _, a := range acts {
		switch a := a.(type) {
		case snapshot.Trigger:
			increasing(&h.lastTrigger, a.ID, "trigger")
			s := fmt.Sprintf("trigger %d %s at=%d", a.ID, kindOf(a.Savepoint, a.Terminate), a.Timestamp.UnixMilli())
			if a.Savepoint {
				s += " dir=" + a.Dir
			}
			out = append(out, s)
		case snapshot.Finalize:
			increasing(&h.lastFinalize, a.ID, "finalize")
			var tasks []string
			var size int64
			for tk, hd := range a.Acks {
				tasks = append(tasks, tk.String())
				if s, ok := hd.(snapshot.Sizer); ok {
					size += s.Size()
				}
			}
			slices.Sort(tasks)
			out = append(out, fmt.Sprintf("finalize %d %s acks=%s size=%d", a.ID, kindOf(a.Savepoint, a.Terminate), strings.Join(tasks, ","), size))
		case snapshot.NotifyComplete:
			increasing(&h.lastNotify, a.ID, "notify-complete")
			s := fmt.Sprintf("notify-complete %d", a.ID)
			if a.Savepoint {
				s += " stop-with-savepoint"
			}
			out = append(out, s)
		case snapshot.Abort:
			s := fmt.Sprintf("abort %d %s, reason: %v", a.ID, kindOf(a.Savepoint, false), a.Reason)
			if !a.Triggered {
				s += " (never triggered)"
			}
			out = append(out, s)
		case snapshot.FailJob:
			out = append(out, fmt.Sprintf("fail-job: %v", a.Reason))
		default:
			h.t.Fatalf("unknown action %T", a)
		}
	}
	return out
}

func kindOf(savepoint, terminate bool) string {
	switch {
	case terminate:
		return "stop-with-savepoint"
	case savepoint:
		return "savepoint"
	}
	return "checkpoint"
}

func at(t *testing.T, s string) time.Time { return time.UnixMilli(num(t, s)) }

func num(t *testing.T, s string) int64 {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

func task(t *testing.T, s string) snapshot.TaskID {
	t.Helper()
	node, sub, ok := strings.Cut(s, "/")
	if !ok {
		t.Fatalf("bad task %q, want node/subtask", s)
	}
	return snapshot.TaskID{Node: int(num(t, node)), Subtask: int(num(t, sub))}
}
