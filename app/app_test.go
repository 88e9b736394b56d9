package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
	"go.uber.org/goleak"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want string // substring of the error; empty: valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"checkpoints and restore latest", func(o *Options) { o.CheckpointDir, o.Restore = "/tmp/c", "latest" }, ""},
		{"restore latest without dir", func(o *Options) { o.Restore = "latest" }, "--restore latest needs --checkpoint-dir"},
		{"two restores", func(o *Options) { o.Restore, o.FromSavepoint = "/a", "/b" }, "--from-savepoint and --restore"},
		{"negative parallelism", func(o *Options) { o.Parallelism = -1 }, "--parallelism -1"},
		{"parallelism above max", func(o *Options) { o.Parallelism, o.MaxParallelism = 8, 4 }, "exceeds --max-parallelism 4"},
		{"max parallelism too high", func(o *Options) { o.MaxParallelism = 1 << 16 }, "--max-parallelism 65536"},
		{"negative interval", func(o *Options) { o.CheckpointInterval = -time.Second }, "--checkpoint-interval -1s"},
		{"retain 0", func(o *Options) { o.Retain = 0 }, "--retain 0"},
		{"backend", func(o *Options) { o.StateBackend = "rocksdb" }, `--state-backend "rocksdb"`},
		{"state dir for memory", func(o *Options) { o.StateDir = "/x" }, "--state-dir is for --state-backend pebble"},
		{"restart spec", func(o *Options) { o.RestartStrategy = "sometimes" }, "--restart-strategy"},
		{"restart ok", func(o *Options) { o.RestartStrategy = "fixed-delay:attempts=2,delay=10ms" }, ""},
		{"rest address", func(o *Options) { o.RESTAddress = "8081" }, "--rest-address"},
		{"no rest", func(o *Options) { o.RESTAddress = "" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.edit(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRestartDefault(t *testing.T) {
	o := DefaultOptions()
	if got := o.restartSpec(); got != "none" {
		t.Errorf("without checkpoints: %q, want none", got)
	}
	o.CheckpointDir = "/c"
	if got := o.restartSpec(); got != DefaultRestartWithCheckpoints {
		t.Errorf("with checkpoints: %q, want %q", got, DefaultRestartWithCheckpoints)
	}
}

func TestRunFlags(t *testing.T) {
	build := func(env *stream.Env) error {
		stream.FromSlice(env, []int{1, 2, 3}, eventtime.Monotonous(func(int) int64 { return 0 })).Discard()
		return nil
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a substring of stdout; "" for none
		stderr string // the whole of stderr, when lines is 1; else a substring
		lines  int    // of stderr; 0 for any number
	}{
		{args: []string{"--help"}, stdout: "--checkpoint-dir location"},
		{args: []string{"--version"}, stdout: "job version "},
		{args: []string{"--restore", "latest"}, code: 2, lines: 1,
			stderr: "job: --restore latest needs --checkpoint-dir: the checkpoints to restore the newest of (see 'job --help')\n"},
		{args: []string{"--checkpoint-interval", "5"}, code: 2, lines: 1,
			stderr: "job: --checkpoint-interval 5: missing unit (e.g. 5s)\n"},
		{args: []string{"-checkpoint-dir", "/tmp/x"}, code: 2, lines: 1,
			stderr: "job: -checkpoint-dir: a long flag takes two dashes (--checkpoint-dir)\n"},
		{args: []string{"--paralelism", "2"}, code: 2, lines: 1,
			stderr: "job: unknown flag --paralelism (did you mean --parallelism?)\n"},
		{args: []string{"extra"}, code: 2, lines: 1, stderr: "job: unexpected argument \"extra\" (see 'job --help')\n"},
		{args: []string{"--retain", "0", "--parallelism", "-1"}, code: 2, lines: 1,
			stderr: "job: --parallelism -1 is negative; --retain 0: keep at least 1 checkpoint (see 'job --help')\n"},
		{args: []string{"--rest-address", "", "--parallelism", "2"}, stderr: "job finished"},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), "job", tc.args, build, &out, &errb)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", tc.args, code, tc.code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), tc.stdout) {
			t.Errorf("%q: stdout lacks %q:\n%s", tc.args, tc.stdout, out.String())
		}
		if tc.lines == 1 && errb.String() != tc.stderr || !strings.Contains(errb.String(), tc.stderr) {
			t.Errorf("%q: stderr\n%s\nwant %q", tc.args, errb.String(), tc.stderr)
		}
	}
}

// TestRunSummary checks the lines a bounded job ends with: what it read, wrote and dropped.
func TestRunSummary(t *testing.T) {
	build := func(env *stream.Env) error {
		s := stream.FromSlice(env, []int{1, 2, 3, 4, 5}, eventtime.Monotonous(func(int) int64 { return 0 })).Name("numbers")
		s.Filter(func(n int) bool { return n%2 == 1 }).Discard().Name("odd")
		s.Discard().Name("all")
		return nil
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), "sum", []string{"--rest-address", "", "--progress-interval", "0"}, build, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	logs := errb.String()
	i := strings.Index(logs, "job sum finished in ")
	if i < 0 {
		t.Fatalf("no summary:\n%s", logs)
	}
	summary := regexp.MustCompile(`in [0-9.]+m?s:`).ReplaceAllString(logs[i:], "in T:")
	want := "job sum finished in T: read 5 records, wrote 8, dropped 0 late\n" +
		"  read   numbers  5\n" +
		"  wrote  odd      3\n" +
		"  wrote  all      5\n"
	if summary != want {
		t.Errorf("summary:\n%s\nwant:\n%s", summary, want)
	}
}

func TestTotals(t *testing.T) {
	p := plan{sources: []planNode{{1, "in"}}, sinks: []planNode{{3, "out"}, {4, "dead letters"}}}
	tot := totalsOf(p, metrics.Snapshot{Operators: []metrics.Operator{
		{ID: 1, Subtask: 0, RecordsOut: 1000},
		{ID: 1, Subtask: 1, RecordsOut: 234},
		{ID: 2, RecordsIn: 1234, RecordsOut: 1200, Counters: map[string]int64{metrics.LateRecordsDropped: 30, metrics.DeadLettered: 4}},
		{ID: 3, Subtask: 0, RecordsIn: 600},
		{ID: 3, Subtask: 1, RecordsIn: 600},
		{ID: 4, RecordsIn: 4},
	}, Checkpoints: &metrics.Checkpoints{Restarts: 2}})
	var b strings.Builder
	tot.print(&b, "j", "stopped after --duration", 1500*time.Millisecond)
	want := "job j stopped after --duration in 1.5s: read 1,234 records, wrote 1,204, dropped 30 late, dead-lettered 4 (since the last of 2 restarts)\n" +
		"  read   in            1,234\n" +
		"  wrote  out           1,200\n" +
		"  wrote  dead letters      4\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWithEndpoint(t *testing.T) {
	const ep = "http://127.0.0.1:7070"
	for _, tc := range []struct{ loc, endpoint, want string }{
		{"s3://b/ckpt", ep, "s3://b/ckpt?endpoint=http%3A%2F%2F127.0.0.1%3A7070"},
		{"s3://b/ckpt?region=eu-west-1", ep, "s3://b/ckpt?region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A7070"},
		{"s3://b/ckpt?endpoint=https://minio:9000", ep, "s3://b/ckpt?endpoint=https://minio:9000"},
		{"s3://b/ckpt", "", "s3://b/ckpt"},
		{"/tmp/ckpt", ep, "/tmp/ckpt"},
		{"file:///tmp/ckpt", ep, "file:///tmp/ckpt"},
		{"", ep, ""},
	} {
		if got := withEndpoint(tc.loc, tc.endpoint); got != tc.want {
			t.Errorf("withEndpoint(%q, %q) = %q, want %q", tc.loc, tc.endpoint, got, tc.want)
		}
	}
	o := DefaultOptions()
	o.CheckpointDir, o.SavepointDir, o.FromSavepoint, o.Restore, o.S3Endpoint = "s3://b/c", "s3://b/s", "s3://b/s/savepoint-1", "latest", ep
	o = o.withS3Endpoint()
	if !strings.Contains(o.CheckpointDir, "endpoint=") || !strings.Contains(o.SavepointDir, "endpoint=") ||
		!strings.Contains(o.FromSavepoint, "endpoint=") || o.Restore != "latest" {
		t.Errorf("withS3Endpoint: %+v", o)
	}
}

// closedEndpoint returns the URL of a loopback port nothing listens on (connections are refused
// at once), and sets fake AWS credentials and no endpoint in the environment.
func closedEndpoint(t *testing.T) (endpoint, hostPort string) {
	t.Setenv("AWS_ACCESS_KEY_ID", "runnel")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort = ln.Addr().String()
	ln.Close()
	return "http://" + hostPort, hostPort
}

// TestS3EndpointReachesCheckpointStorage runs a job with an s3:// checkpoint directory and
// Options.S3Endpoint pointing at a server that is not there: the error names that endpoint,
// so the storage dialled it rather than AWS.
func TestS3EndpointReachesCheckpointStorage(t *testing.T) {
	endpoint, hostPort := closedEndpoint(t)
	o := DefaultOptions()
	o.CheckpointDir, o.RESTAddress, o.S3Endpoint = "s3://runnel/ckpt", "", endpoint
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Execute(ctx, "s3", func(env *stream.Env) error {
		stream.FromSlice(env, []int{1}, eventtime.Monotonous(func(int) int64 { return 0 })).Discard()
		return nil
	}, o)
	if err == nil || !strings.Contains(err.Error(), hostPort) {
		t.Fatalf("Execute = %v, want an error naming %s", err, endpoint)
	}
}

// TestS3EndpointReachesSavepointTarget asks a running job for a savepoint into an s3:// target
// that names no endpoint: the job uses Options.S3Endpoint for it.
func TestS3EndpointReachesSavepointTarget(t *testing.T) {
	endpoint, hostPort := closedEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ready := make(chan string, 1)
	o := DefaultOptions()
	o.CheckpointDir, o.CheckpointInterval, o.RESTAddress, o.S3Endpoint = t.TempDir(), time.Hour, "127.0.0.1:0", endpoint
	o.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() {
		done <- Execute(ctx, "sp", func(env *stream.Env) error {
			src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Rate: 100})
			if err != nil {
				return err
			}
			stream.FromSource[int64](env, src, eventtime.Monotonous(func(n int64) int64 { return n })).Uid("n").Discard()
			return nil
		}, o)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Execute ended before listening: %v", err)
	}
	// One savepoint that completes, so that the stop at the end is not a job whose snapshots
	// all failed.
	if _, err := Savepoint(ctx, addr, SavepointRequest{TargetDirectory: t.TempDir()}); err != nil {
		t.Fatalf("savepoint into a local directory: %v", err)
	}
	_, err := Savepoint(ctx, addr, SavepointRequest{TargetDirectory: "s3://runnel/sp"})
	if err == nil || !strings.Contains(err.Error(), hostPort) {
		t.Errorf("savepoint into s3://runnel/sp = %v, want an error naming %s", err, endpoint)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Execute: %v", err)
	}
}

// TestExecuteSavepointAndRestore runs a job with the REST API on a free port, takes a savepoint
// through the client and stops the job with another, then starts a job from it.
func TestExecuteSavepointAndRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ckpt, sp := t.TempDir(), t.TempDir()
	var logs syncBuffer
	build := func(env *stream.Env) error {
		src := stream.FromSlice(env, make([]int, 10000), eventtime.Monotonous(func(int) int64 { return 0 })).Uid("numbers")
		slow := stream.Map(src, func(v int) int { time.Sleep(time.Millisecond); return v })
		stream.Reduce(stream.KeyBy(slow, func(v int) int { return v % 7 }), func(a, b int) int { return a + b }).Uid("sums").Discard()
		return nil
	}
	ready := make(chan string, 1)
	o := DefaultOptions()
	o.CheckpointDir, o.CheckpointInterval, o.Parallelism = ckpt, 50*time.Millisecond, 2
	o.RESTAddress, o.SavepointDir = "127.0.0.1:0", sp
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	o.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- Execute(ctx, "numbers", build, o) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Execute ended before listening: %v\n%s", err, logs.String())
	}

	resp, err := http.Get("http://" + addr + "/v1/job")
	if err != nil {
		t.Fatal(err)
	}
	var info JobInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.Name != "numbers" || info.Status != StatusRunning {
		t.Fatalf("GET /v1/job: %+v, %v", info, err)
	}

	loc, err := Savepoint(ctx, addr, SavepointRequest{})
	if err != nil {
		t.Fatalf("savepoint: %v\n%s", err, logs.String())
	}
	if !strings.HasPrefix(loc, sp) {
		t.Errorf("savepoint at %s, want below --savepoint-dir %s", loc, sp)
	}
	if _, err := os.Stat(filepath.Join(loc, "_metadata")); err != nil {
		t.Fatalf("savepoint without metadata: %v", err)
	}
	stopAt, err := Savepoint(ctx, "http://"+addr, SavepointRequest{TargetDirectory: t.TempDir(), Stop: true})
	if err != nil {
		t.Fatalf("stop with savepoint: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("job stopped with a savepoint: %v\n%s", err, logs.String())
	}
	if _, err := Savepoint(ctx, addr, SavepointRequest{}); err == nil {
		t.Fatal("savepoint after the job ended succeeded")
	}

	o.RESTAddress, o.Ready, o.FromSavepoint, o.Parallelism, o.Duration = "", nil, stopAt, 3, time.Second
	if err := Execute(ctx, "numbers", build, o); err != nil {
		t.Fatalf("restore at parallelism 3: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "msg=restoring") {
		t.Errorf("no restoring log line:\n%s", logs.String())
	}
}

// TestSavepointClientErrors checks, through a running job's REST API, that requests that cannot
// succeed as they are get client errors with their codes, not 500: a target directory that
// cannot hold a savepoint (400 invalid_target), and a second stop-with-savepoint while the
// first is in progress (409 stop_in_progress), after which the first one completes.
func TestSavepointClientErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The job's only task blocks in its map function on the first record until gate closes, so
	// no savepoint can complete before then.
	gate, blocked := make(chan struct{}), make(chan struct{})
	var blockOnce, openOnce sync.Once
	open := func() { openOnce.Do(func() { close(gate) }) }
	defer open()
	build := func(env *stream.Env) error {
		src := stream.FromSlice(env, make([]int, 100_000), eventtime.Monotonous(func(int) int64 { return 0 })).Uid("numbers")
		stream.Map(src, func(v int) int {
			blockOnce.Do(func() { close(blocked) })
			<-gate
			return v
		}).Uid("gate").Discard()
		return nil
	}
	var logs syncBuffer
	ready := make(chan string, 1)
	o := DefaultOptions()
	o.Parallelism, o.RESTAddress = 1, "127.0.0.1:0"
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	o.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- Execute(ctx, "gated", build, o) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Execute ended before listening: %v\n%s", err, logs.String())
	}
	select {
	case <-blocked:
	case err := <-done:
		t.Fatalf("Execute ended before its first record: %v\n%s", err, logs.String())
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "read-only")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	targets := []string{"ftp://host/savepoints", "s3:///no-bucket", file, filepath.Join(file, "sub")}
	if f, err := os.CreateTemp(readOnly, "probe"); err == nil {
		f.Close() // root writes anywhere: the directory is not read-only to this process
	} else {
		targets = append(targets, readOnly)
	}
	for _, target := range targets {
		for _, stop := range []bool{false, true} {
			_, err := Savepoint(ctx, addr, SavepointRequest{TargetDirectory: target, Stop: stop})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != ErrInvalidTarget ||
				!strings.Contains(apiErr.Message, target) {
				t.Errorf("savepoint (stop %t) into %s: %v, want 400 %s naming the target", stop, target, err, ErrInvalidTarget)
			}
		}
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Errorf("the file named as target: %q, %v", b, err)
	}

	// Two stop-with-savepoint requests at once: whichever the job takes second is refused
	// while the first waits for the gate.
	type answer struct {
		loc string
		err error
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			loc, err := Savepoint(ctx, addr, SavepointRequest{TargetDirectory: t.TempDir(), Stop: true})
			answers <- answer{loc, err}
		}()
	}
	first := <-answers
	var apiErr *APIError
	if !errors.As(first.err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != ErrStopInProgress {
		t.Errorf("second stop-with-savepoint: %q, %v; want 409 %s", first.loc, first.err, ErrStopInProgress)
	}
	open()
	second := <-answers
	if second.err != nil {
		t.Fatalf("first stop-with-savepoint: %v\n%s", second.err, logs.String())
	}
	if _, err := os.Stat(filepath.Join(second.loc, "_metadata")); err != nil {
		t.Errorf("savepoint without metadata: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("job stopped with a savepoint: %v\n%s", err, logs.String())
	}
}

func TestRestoreLatestWithoutCheckpoints(t *testing.T) {
	var logs syncBuffer
	o := DefaultOptions()
	o.CheckpointDir, o.Restore, o.RESTAddress = t.TempDir(), "latest", ""
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	err := Execute(context.Background(), "fresh", func(env *stream.Env) error {
		stream.FromSlice(env, []int{1}, eventtime.Monotonous(func(int) int64 { return 0 })).Discard()
		return nil
	}, o)
	if err != nil || !strings.Contains(logs.String(), "starting fresh") {
		t.Fatalf("Execute = %v\n%s", err, logs.String())
	}
}

func TestAPIErrors(t *testing.T) {
	st := newStatus("j", slog.New(slog.DiscardHandler), 0)
	s := &server{st: st, savepoints: stream.NewSavepoints(), ended: context.Background()}
	h := s.routes()
	do := func(method, path, body string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		var e struct {
			Error APIError `json:"error"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec.Code, e.Error.Code
	}
	st.set(StatusRunning, nil)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/savepoints", `{"targetDirectory": 7}`, 400, ErrBadRequest},
		{"POST", "/v1/savepoints", `{"target": "/x"}`, 400, ErrBadRequest},
		{"POST", "/v1/savepoints", ``, 400, ErrBadRequest}, // no --savepoint-dir either
		{"GET", "/v1/nothing", ``, 404, ErrNotFound},
	} {
		if status, code := do(tc.method, tc.path, tc.body); status != tc.status || code != tc.code {
			t.Errorf("%s %s %s: %d %s, want %d %s", tc.method, tc.path, tc.body, status, code, tc.status, tc.code)
		}
	}
	if status, _ := do("GET", "/v1/savepoints", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/savepoints: %d, want 405", status)
	}
	st.set(StatusFinished, nil)
	if status, code := do("POST", "/v1/savepoints", `{"targetDirectory": "/x"}`); status != 409 || code != ErrNotRunning {
		t.Errorf("savepoint of a finished job: %d %s, want 409 %s", status, code, ErrNotRunning)
	}
	st.set(StatusCreated, nil)
	if status, code := do("POST", "/v1/savepoints", `{"targetDirectory": "/x"}`); status != 503 || code != ErrUnavailable {
		t.Errorf("savepoint of a starting job: %d %s, want 503 %s", status, code, ErrUnavailable)
	}
	var apiErr *APIError
	srv := httptest.NewServer(h)
	defer srv.Close()
	if _, err := Savepoint(context.Background(), srv.URL, SavepointRequest{TargetDirectory: "/x"}); !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Errorf("client error = %v, want an *APIError with status 503", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs written by the job.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestStatusLogsSourceLag checks that the progress line carries the sources' lag gauges, the
// largest over their subtasks, and nothing of other operators.
func TestStatusLogsSourceLag(t *testing.T) {
	var buf bytes.Buffer
	s := newStatus("lag", slog.New(slog.NewTextHandler(&buf, nil)), time.Second)
	s.plan = plan{sources: []planNode{{1, "src"}}}
	s.Report(metrics.Snapshot{Time: s.started.Add(time.Second), Operators: []metrics.Operator{
		{ID: 1, Subtask: 0, RecordsOut: 5, Gauges: map[string]int64{metrics.RecordsLagMax: 7}},
		{ID: 1, Subtask: 1, RecordsOut: 5, Gauges: map[string]int64{metrics.RecordsLagMax: 42}},
		{ID: 2, Subtask: 0, Gauges: map[string]int64{"other": 1}},
	}})
	line := buf.String()
	if !strings.Contains(line, "records=10") || !strings.Contains(line, "records_lag_max=42") || strings.Contains(line, "other") {
		t.Fatalf("progress line %q, want records=10 and records_lag_max=42 and no other gauge", line)
	}
}

// TestDurationRunWithoutCheckpoints: a job asked for checkpoints whose every checkpoint failed
// did not do what was asked: Execute fails, naming the last failure, even though --duration
// stopped it.
func TestDurationRunWithoutCheckpoints(t *testing.T) {
	var logs syncBuffer
	o := DefaultOptions()
	o.CheckpointDir, o.CheckpointInterval, o.RESTAddress = t.TempDir(), 10*time.Millisecond, ""
	o.TolerableFailures = 1000
	o.Duration = 500 * time.Millisecond
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	err := Execute(context.Background(), "refusing", func(env *stream.Env) error {
		src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Rate: 1000})
		if err != nil {
			return err
		}
		stream.FromSource[int64](env, src, eventtime.Monotonous(func(n int64) int64 { return n })).SinkTo(refusingSink{})
		return nil
	}, o)
	if err == nil || !strings.Contains(err.Error(), "none of its") || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Execute = %v, want a failure saying no snapshot completed and why\n%s", err, logs.String())
	}
}

// TestUnusableCheckpointDirFailsAtStart: a checkpoint location the job cannot write fails the
// job when it starts, not at its first checkpoint.
func TestUnusableCheckpointDirFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	// The lineage file's name taken by a directory: nothing can be written there.
	if err := os.Mkdir(filepath.Join(dir, "_lineage"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.CheckpointDir, o.CheckpointInterval, o.RESTAddress = dir, time.Hour, ""
	start := time.Now()
	err := Execute(context.Background(), "unwritable", func(env *stream.Env) error {
		src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Rate: 10})
		if err != nil {
			return err
		}
		stream.FromSource[int64](env, src, eventtime.Monotonous(func(n int64) int64 { return n })).Discard()
		return nil
	}, o)
	if err == nil || !strings.Contains(err.Error(), "lineage") {
		t.Fatalf("Execute = %v, want a failure about the checkpoint location", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the failure took %v", d)
	}
}

// refusingSink's writers fail every pre-commit: no checkpoint completes.
type refusingSink struct{}

func (refusingSink) NewWriter(context.Context, connector.SinkContext) (connector.Writer[int64], error) {
	return refusingSink{}, nil
}
func (refusingSink) Write(context.Context, int64, int64) error { return nil }
func (refusingSink) PreCommit(context.Context, int64) ([]connector.Committable, error) {
	return nil, errors.New("disk full")
}
func (refusingSink) Close() error { return nil }
