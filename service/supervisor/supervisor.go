// Package supervisor runs one application process: a `bootstrap` executable built with
// app.Main, started with the flags of `runnel run`, driven through its REST API (status,
// savepoints, stop with a savepoint), its output kept in a rotating log. A process dies with
// the server (Linux: the parent-death signal), so a server killed with SIGKILL leaves no
// process running unsupervised; the checkpoint location's lease keeps a survivor from running
// beside its successor anyway.
package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runnel-io/runnel/app"
)

// Spec is how to run one process.
type Spec struct {
	// Binary is the executable, Dir its working directory.
	Binary, Dir string
	// Args are its flags (app.Options'); the supervisor adds --rest-address.
	Args []string
	// Env is added to the server's environment (GOMAXPROCS, GOMEMLIMIT, properties).
	Env []string
	// Log receives the process's output, line by line.
	Log io.Writer
	// StartTimeout bounds the wait for the job to run. Default 60 s.
	StartTimeout time.Duration
}

// Process is a running application process. Its methods are safe for concurrent use.
type Process struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	mu     sync.Mutex
	err    error // how it ended, once exited is closed
	client *http.Client
}

var addrRE = regexp.MustCompile(`msg="REST API listening".* address=(\S+)`)

// Start starts the process and waits until its job runs (GET /v1/job says RUNNING). It fails
// when the process ends first, when the job fails, or after spec.StartTimeout; the process is
// then killed and gone.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	timeout := spec.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	args := append(append([]string{}, spec.Args...), "--rest-address", "127.0.0.1:0")
	cmd := exec.Command(spec.Binary, args...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = procAttr()
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = spec.Log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("supervisor: starting %s: %w", spec.Binary, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{}), client: &http.Client{Timeout: 10 * time.Second}}
	addr := make(chan string, 1)
	tail := &lastLines{}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if spec.Log != nil {
				fmt.Fprintln(spec.Log, line)
			}
			tail.add(line)
			if m := addrRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	fail := func(why string) error {
		p.Kill()
		<-p.exited
		return fmt.Errorf("%s; its last output:\n%s", why, tail.String())
	}
	select {
	case p.addr = <-addr:
	case <-p.exited:
		return nil, fmt.Errorf("the process exited before it ran its job (%v); its last output:\n%s", p.Err(), tail.String())
	case <-deadline.C:
		return nil, fail(fmt.Sprintf("the process did not serve its REST API within %v", timeout))
	case <-ctx.Done():
		return nil, fail("cancelled while starting")
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := p.Job(ctx)
		if err == nil {
			switch info.Status {
			case app.StatusRunning:
				return p, nil
			case app.StatusFailed, app.StatusFinished, app.StatusCanceled:
				return nil, fail(fmt.Sprintf("the job is %s before running: %s", info.Status, info.Error))
			}
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return nil, fmt.Errorf("the process exited before it ran its job (%v); its last output:\n%s", p.Err(), tail.String())
		case <-deadline.C:
			return nil, fail(fmt.Sprintf("the job did not run within %v", timeout))
		case <-ctx.Done():
			return nil, fail("cancelled while starting")
		}
	}
}

// PID returns the process's ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Address returns the process's REST address (http://host:port).
func (p *Process) Address() string { return p.addr }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err returns how the process ended: nil for exit 0; meaningful once Exited is closed.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Job returns the job's status from GET /v1/job.
func (p *Process) Job(ctx context.Context) (app.JobInfo, error) {
	var info app.JobInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.addr+"/v1/job", nil)
	if err != nil {
		return info, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("GET /v1/job: %s", resp.Status)
	}
	return info, json.NewDecoder(resp.Body).Decode(&info)
}

// Savepoint takes a savepoint into dir; with stop the job then stops and the process exits,
// and Savepoint waits for that. It returns the savepoint's location.
func (p *Process) Savepoint(ctx context.Context, dir string, stop bool) (string, error) {
	loc, err := app.Savepoint(ctx, p.addr, app.SavepointRequest{TargetDirectory: dir, Stop: stop})
	if err != nil {
		return "", err
	}
	if stop {
		select {
		case <-p.exited:
		case <-ctx.Done():
			return loc, fmt.Errorf("supervisor: the process did not exit after its stop with savepoint: %w", ctx.Err())
		}
	}
	return loc, nil
}

// Stop asks the process to stop (SIGTERM: the job stops without a savepoint, committing
// nothing more) and waits up to grace before it kills it.
func (p *Process) Stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.Kill()
		<-p.exited
	}
}

// Kill kills the process at once (SIGKILL).
func (p *Process) Kill() { _ = p.cmd.Process.Signal(syscall.SIGKILL) }

// lastLines keeps the last lines of output, for error messages.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 20 {
		l.lines = l.lines[len(l.lines)-20:]
	}
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "(none)"
	}
	return strings.Join(l.lines, "\n")
}

// ErrExited is returned for requests to a process that has ended.
var ErrExited = errors.New("supervisor: the process has ended")
