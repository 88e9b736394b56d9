package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/runnel-io/runnel/examples"
	"github.com/runnel-io/runnel/internal/cli"
)

// TestRunKafkaLogs is the README's kafka-logs walk-through against an in-process kfake:
// generate, run bounded with checkpoints, show the output topics.
func TestRunKafkaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kfake")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "logs", "logs-enriched", "logs-dead-letter"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := "--kafka-brokers=" + strings.Join(cluster.ListenAddrs(), ",")
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"run", "kafka-logs", "--generate", "500", "--bounded", brokers,
		"--checkpoint-dir", t.TempDir(), "--checkpoint-interval", "50ms", "--rest-address", ""}, &out, &errb); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errb.String())
	}
	// The generator's and the job's summaries: 500 lines written, then read; one in 50 malformed.
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`job kafka-logs-generate finished in \S+: read 500 records, wrote 500, dropped 0 late\n`),
		regexp.MustCompile(`job kafka-logs finished in \S+: read 500 records, wrote 500, dropped 0 late, dead-lettered 10\n` +
			`  read   kafka logs              500\n` +
			`  wrote  kafka logs-enriched     490\n` +
			`  wrote  kafka logs-dead-letter   10\n$`),
	} {
		if !want.MatchString(errb.String()) {
			t.Errorf("no summary matching %s in:\n%s", want, errb.String())
		}
	}
	out.Reset()
	if code := run(t.Context(), []string{"run", "kafka-logs", "--show", brokers}, &out, &errb); code != 0 {
		t.Fatalf("show: exit %d\n%s", code, errb.String())
	}
	if n, bad := strings.Count(out.String(), `"team":`), strings.Count(out.String(), "garbage line"); n != 490 || bad != 10 {
		t.Errorf("%d enriched and %d dead letters, want 490 and 10:\n%s", n, bad, out.String())
	}
}

// TestRunEveryExample runs each example, bounded, to its end with checkpoints (so its sources
// and operators snapshot) and with the flags before the name.
func TestRunEveryExample(t *testing.T) {
	for _, e := range examples.All() {
		if e.Servers {
			continue // see TestRunKafkaLogs and the examples' own tests
		}
		t.Run(e.Name, func(t *testing.T) {
			ckpt := t.TempDir()
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"run", "--events", "6000", "--rate", "20000", "--parallelism", "2",
				"--checkpoint-dir", ckpt, "--checkpoint-interval", "50ms", "--output", t.TempDir(), "--rest-address", "", e.Name}, &out, &errb)
			if code != 0 || !strings.Contains(errb.String(), "job finished") {
				t.Fatalf("exit %d\n%s", code, errb.String())
			}
			if !strings.Contains(errb.String(), "msg=\"snapshot complete\"") {
				t.Errorf("no checkpoint completed:\n%s", errb.String())
			}
			// The job ends with its summary, the last thing it prints.
			logs := errb.String()
			i := strings.LastIndex(logs, "job "+e.Name+" finished in ")
			if i < 0 || !regexp.MustCompile(`^job \S+ finished in \S+: read [\d,]+ records, wrote [\d,]+, dropped [\d,]+ late\n(  (read|wrote) .*\n)+$`).MatchString(logs[i:]) {
				t.Errorf("no summary at the end:\n%s", logs)
			}
		})
	}
}

// TestRunSavepointRestore is the workflow of the README: run with checkpoints and the REST API,
// take a savepoint and stop with another through `runnel savepoint`, restart from it at another
// parallelism, then restore the latest checkpoint.
func TestRunSavepointRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	ckpt, sp, out := filepath.Join(tmp, "ckpt"), filepath.Join(tmp, "sp"), filepath.Join(tmp, "out")

	ready := make(chan string, 1)
	done := make(chan int, 1)
	// Closed once a periodic checkpoint (not a savepoint) completed after the first savepoint.
	var logs lockedBuffer
	go func() {
		done <- cli.Execute(ctx, newRoot(hooks{ready: func(addr string) { ready <- addr }}), []string{"run", "clickstream",
			"--checkpoint-dir", ckpt, "--checkpoint-interval", "100ms", "--rest-address", "127.0.0.1:0", "--rate", "200000",
			"--output", out, "--parallelism", "2"}, &logs, &logs)
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("run ended before listening: exit %d\n%s", code, logs.String())
	}

	savepoint := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, append([]string{"savepoint", "--address", addr}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("savepoint %v: exit %d: %s\njob:\n%s", args, code, stderr.String(), logs.String())
		}
		loc := strings.TrimSpace(stdout.String())
		if _, err := os.Stat(filepath.Join(loc, "_metadata")); err != nil {
			t.Fatalf("savepoint %s has no _metadata: %v", loc, err)
		}
		return loc
	}
	first := savepoint(sp)
	if !strings.HasPrefix(first, sp+string(filepath.Separator)+"savepoint-") {
		t.Errorf("savepoint at %s, want a savepoint-* directory below %s", first, sp)
	}
	// Let a periodic checkpoint complete after the savepoint, so the stop comes between them.
	select {
	case <-logs.after(first, `msg="snapshot complete".* savepoint=false`):
	case <-ctx.Done():
		t.Fatalf("no checkpoint completed after the savepoint:\n%s", logs.String())
	}
	stopped := savepoint("--stop", sp)
	if code := <-done; code != 0 {
		t.Fatalf("job stopped with a savepoint: exit %d\n%s", code, logs.String())
	}
	if parts, _ := filepath.Glob(filepath.Join(out, "top-pages", "part-*")); len(parts) == 0 {
		t.Errorf("no committed output below %s after stop with savepoint", out)
	}

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"checkpoints", "list", ckpt}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "complete") {
		t.Errorf("checkpoints list: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	for _, restore := range [][]string{{"--from-savepoint", stopped, "--parallelism", "3"}, {"--restore", "latest", "--parallelism", "1"}} {
		stdout.Reset()
		stderr.Reset()
		args := append([]string{"run", "clickstream", "--checkpoint-dir", ckpt, "--checkpoint-interval", "100ms",
			"--rest-address", "", "--rate", "20000", "--output", out, "--duration", "700ms"}, restore...)
		if code := run(ctx, args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\n%s", restore, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "msg=restoring") || !strings.Contains(stderr.String(), "stopped after --duration") {
			t.Errorf("%v: no restore or stop in the log:\n%s", restore, stderr.String())
		}
	}
}

func TestSavepointWithoutJob(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"savepoint", "--address", "127.0.0.1:1", "--timeout", "5s", t.TempDir()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "is a job running") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use: the job's logs and printed output.
// It can signal when a line matching a pattern is written after some text.
type lockedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	watchers []watcher
}

// watcher waits for a line matching re written after the text after.
type watcher struct {
	after string
	re    *regexp.Regexp
	ch    chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	b.checkLocked()
	return n, err
}

// after returns a channel closed once a line matching pattern follows the first occurrence of
// text.
func (b *lockedBuffer) after(text, pattern string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := watcher{after: text, re: regexp.MustCompile(pattern), ch: make(chan struct{})}
	b.watchers = append(b.watchers, w)
	b.checkLocked()
	return w.ch
}

func (b *lockedBuffer) checkLocked() {
	s := b.buf.String()
	kept := b.watchers[:0]
	for _, w := range b.watchers {
		if i := strings.Index(s, w.after); i >= 0 && w.re.MatchString(s[i+len(w.after):]) {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	b.watchers = kept
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunS3EndpointForCheckpoints: --s3-endpoint applies to an s3:// --checkpoint-dir, which
// dialled AWS before (only AWS_ENDPOINT_URL reached another store). Nothing listens at the
// endpoint here, so the job fails at the start, naming it.
func TestRunS3EndpointForCheckpoints(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "runnel")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, stderr := runCmd(t, "run", "clickstream", "--events", "10", "--rest-address", "",
		"--checkpoint-dir", "s3://runnel/ckpt", "--s3-endpoint", "http://"+addr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != 1 || !strings.HasPrefix(last, "runnel run: app: checkpoint storage s3://runnel/ckpt?endpoint=") || !strings.Contains(last, addr) {
		t.Fatalf("exit %d, want 1 and a last line naming the endpoint %s:\n%s", code, addr, stderr)
	}
}
