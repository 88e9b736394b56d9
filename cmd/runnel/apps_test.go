package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/service"
)

// startTestServer runs a service.Server on a free loopback port for the test and returns its
// endpoint.
func startTestServer(t *testing.T) string {
	t.Helper()
	srv, err := service.New(service.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), StartTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(addr string) { ready <- addr }) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatal(err)
	}
	return ""
}

// buildTestApp builds the service's test application, the bootstrap the commands upload.
func buildTestApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	out, err := exec.Command("go", "build", "-o", bin, "../../service/internal/testapp").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestApps drives an application through every `runnel apps` command against a real server,
// and checks what each prints: tables, JSON answers, progress and errors.
func TestApps(t *testing.T) {
	ep := startTestServer(t)
	bin := buildTestApp(t)
	out := t.TempDir()
	apps := func(args ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, append(append([]string{"apps"}, args...), "--endpoint", ep)...)
	}
	ok := func(args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := apps(args...)
		if code != 0 {
			t.Fatalf("runnel apps %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout, stderr
	}

	if stdout, _ := ok("list"); !strings.Contains(stdout, "no applications") {
		t.Errorf("list on a new server: %q", stdout)
	}
	stdout, _ := ok("create", "counts", "--bootstrap", bin, "--property", "job.output="+out, "--property", "job.rate=2000",
		"--property", "job.records=1000000", "--checkpoint-interval", "200ms", "--min-pause", "0s", "--description", "running counts")
	for _, want := range []string{"Name:         counts", "Status:       READY", "Version:      1", "Checkpoints:  every 200ms", "job: output=" + out + ", rate=2000, records=1000000"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("create printed no %q:\n%s", want, stdout)
		}
	}
	_, stderr := ok("start", "counts")
	if !regexp.MustCompile(`(?m)^counts started in \S+: RUNNING, version 1$`).MatchString(stderr) {
		t.Errorf("start's last line: %q", stderr)
	}
	stdout, _ = ok("list")
	if !regexp.MustCompile(`(?m)^counts\s+RUNNING\s+1\s+FLINK-1_20$`).MatchString(stdout) {
		t.Errorf("list:\n%s", stdout)
	}
	stdout, _ = ok("describe", "counts", "--json")
	var detail struct {
		ApplicationName, ApplicationStatus string
		ApplicationVersionId               int64
		CreateTimestamp                    float64
	}
	if err := json.Unmarshal([]byte(stdout), &detail); err != nil || detail.ApplicationName != "counts" || detail.ApplicationStatus != "RUNNING" || detail.CreateTimestamp == 0 {
		t.Errorf("describe --json: %v %+v\n%s", err, detail, stdout)
	}

	stdout, _ = ok("snapshot", "counts", "first")
	if strings.TrimSpace(stdout) != "first" {
		t.Errorf("snapshot printed %q", stdout)
	}
	_, stderr = ok("update", "counts", "--parallelism", "2", "--property", "job.rate=3000")
	if !strings.Contains(stderr, "counts updated in") || !strings.Contains(stderr, "RUNNING, version 2") {
		t.Errorf("update: %q", stderr)
	}
	stdout, _ = ok("describe", "counts")
	if !strings.Contains(stdout, "Parallelism:  2 (") || !strings.Contains(stdout, "rate=3000") || !strings.Contains(stdout, "records=1000000") {
		t.Errorf("after the update, describe:\n%s", stdout)
	}
	stdout, _ = ok("versions", "counts")
	if !regexp.MustCompile(`(?s)VERSION\s+STATUS\n2\s+RUNNING\n1\s+READY`).MatchString(stdout) {
		t.Errorf("versions:\n%s", stdout)
	}
	stdout, _ = ok("versions", "counts", "1")
	if !strings.Contains(stdout, "rate=2000") {
		t.Errorf("version 1:\n%s", stdout)
	}
	stdout, _ = ok("snapshots", "counts")
	if !regexp.MustCompile(`(?m)^first\s+READY\s+1\s`).MatchString(stdout) {
		t.Errorf("snapshots:\n%s", stdout)
	}
	_, stderr = ok("rollback", "counts")
	if !strings.Contains(stderr, "counts rolled back in") || !strings.Contains(stderr, "RUNNING, version 3") {
		t.Errorf("rollback: %q", stderr)
	}
	stdout, _ = ok("operations", "counts")
	for _, op := range []string{"CreateApplication", "StartApplication", "UpdateApplication", "RollbackApplication"} {
		if !regexp.MustCompile(`(?m)^\S+\s+` + op + `\s+SUCCESSFUL\s`).MatchString(stdout) {
			t.Errorf("operations: no successful %s:\n%s", op, stdout)
		}
	}
	id := strings.Fields(strings.Split(stdout, "\n")[1])[0]
	stdout, _ = ok("operations", "counts", id, "--json")
	if !strings.Contains(stdout, `"OperationStatus": "SUCCESSFUL"`) {
		t.Errorf("operation %s --json:\n%s", id, stdout)
	}
	stdout, _ = ok("logs", "counts", "--tail", "3")
	if n := strings.Count(stdout, "\n"); n != 3 {
		t.Errorf("logs --tail 3 printed %d lines:\n%s", n, stdout)
	}
	stdout, _ = ok("logs", "counts")
	if !strings.Contains(stdout, "restoring") {
		t.Errorf("the log says nothing of the restores:\n%s", stdout)
	}

	_, stderr = ok("stop", "counts")
	if !strings.Contains(stderr, "counts stopped in") || !strings.Contains(stderr, "READY") {
		t.Errorf("stop: %q", stderr)
	}
	ok("snapshot", "counts", "first", "--delete")
	if stdout, _ := ok("snapshots", "counts"); strings.Contains(stdout, "first") {
		t.Errorf("snapshot first was deleted, still listed:\n%s", stdout)
	}
	ok("delete", "counts")
	code, stdout, stderr := apps("describe", "counts")
	if code != 1 || stdout != "" || stderr != "runnel apps describe: ResourceNotFoundException: application counts does not exist\n" {
		t.Errorf("describe after delete: exit %d, %q, %q", code, stdout, stderr)
	}
}

// TestAppsErrors checks what a user sees after a mistake or a refusal: one line on stderr.
func TestAppsErrors(t *testing.T) {
	ep := startTestServer(t)
	notExec := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"create", "x"}, 2, `runnel apps create: no code: give --bootstrap, --zip or --s3 (see 'runnel apps create --help')`},
		{[]string{"create", "x", "--zip", "a.zip", "--bootstrap", "b"}, 2, `runnel apps create: --bootstrap, --zip and --s3 each give the code: give one (see 'runnel apps create --help')`},
		{[]string{"create", "x", "--s3", "bucket/key"}, 2, `runnel apps create: --s3 "bucket/key": want s3://bucket/key (see 'runnel apps create --help')`},
		{[]string{"create", "x", "--bootstrap", notExec}, 1, `runnel apps create: packaging ` + notExec + `: not an executable file (build one with 'go build -o bootstrap ./yourjob')`},
		{[]string{"create", "bad name", "--zip", "/dev/null"}, 1, `runnel apps create: InvalidArgumentException: ApplicationName: "bad name" does not match the pattern ^(?:[a-zA-Z0-9_.-]+)$`},
		{[]string{"create", "x", "--zip", "/dev/null", "--property", "novalue"}, 2, `runnel apps create: --property "novalue": want GROUP.KEY=VALUE (see 'runnel apps create --help')`},
		{[]string{"start", "nope"}, 1, `runnel apps start: ResourceNotFoundException: application nope does not exist`},
		{[]string{"versions", "nope", "first"}, 2, `runnel apps versions: VERSION "first": want a version number (see 'runnel apps versions --help')`},
		{[]string{"snapshot", "nope", "--delete"}, 2, `runnel apps snapshot: --delete needs the SNAPSHOT to delete (see 'runnel apps snapshot --help')`},
		{[]string{"strat", "x"}, 2, `runnel apps: unknown command "strat" (did you mean "start"?)`},
		{[]string{"list", "--endpoint", "http://127.0.0.1:1"}, 1, `runnel apps list: cannot reach the server at http://127.0.0.1:1: connection refused (is 'runnel server' running? --endpoint names another)`},
	} {
		args := append([]string{"apps"}, tc.args...)
		if !strings.Contains(strings.Join(tc.args, " "), "--endpoint") {
			args = append(args, "--endpoint", ep)
		}
		code, stdout, stderr := runCmd(t, args...)
		if code != tc.code || stdout != "" || stderr != tc.want+"\n" {
			t.Errorf("runnel %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.want)
		}
	}
}
