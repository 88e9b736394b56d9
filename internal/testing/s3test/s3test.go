// Package s3test runs a real S3-compatible server for tests: Versity's gateway (versitygw) on a
// temporary directory, listening on the loopback interface. Tests of everything that speaks
// S3 (the checkpoint storage, the S3 connector) start one with Start and make a fresh bucket
// per test with Server.Bucket.
//
// The gateway binary is pinned at Version and lives in .cache/bin below the module root, where
// `scripts/versitygw.sh` (or `make versitygw`) puts it. When it is missing, Start builds it
// there itself with `go install` (about 90 seconds, once per machine), holding a lock file so
// that test binaries of several packages running at once build it only once; so a machine
// with nothing but Go runs the tests. Give such a first run a generous -timeout.
//
// Tests that should run against a real S3 instead read the URL in the environment variable
// named by EnvURL and skip Start when it is set.
package s3test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/runnel-io/runnel/internal/testing/testproc"
)

// Version is the versitygw release Start runs; scripts/versitygw.sh pins the same one.
const Version = "v1.8.0"

// modulePath is what Start installs with `go install modulePath@Version`.
const modulePath = "github.com/versity/versitygw/cmd/versitygw"

// EnvURL names the environment variable that, when set to an s3://bucket/prefix URL, points
// the integration tests at that S3 (with the standard AWS configuration for credentials and
// region) instead of a versitygw started by Start. Tests then write below a fresh prefix of
// it per test.
const EnvURL = "RUNNEL_S3_URL"

// Server is a running versitygw. Its fields are set by Start and read-only afterwards; it is
// safe for concurrent use.
type Server struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT". Use path-style addressing.
	Endpoint string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// Region is the region the server signs for.
	Region string
	// Dir is the directory the posix backend keeps the buckets in.
	Dir string

	client *s3.Client
}

// Start runs a versitygw for the test on a free loopback port, building the binary first if
// .cache/bin lacks it, and waits until it answers. The server and its data are removed in
// t.Cleanup. Start fails the test (t.Fatal) when the server cannot be built or started.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	s := &Server{
		AccessKey: "runnel-test-" + testproc.RandomHex(4),
		SecretKey: testproc.RandomHex(20),
		Region:    "us-east-1",
		Dir:       t.TempDir(),
	}
	sidecar := t.TempDir() // metadata beside the data: no need for user xattrs on TMPDIR
	var lastErr error
	for range 3 { // the free port may be taken before the server binds it
		port, err := testproc.FreePort()
		if err != nil {
			t.Fatalf("s3test: finding a free port: %v", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		s.Endpoint = "http://" + addr
		if lastErr = s.run(t, bin, addr, sidecar); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("s3test: starting versitygw: %v", lastErr)
	}
	s.client = s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		Logger:       logging.Nop{},
	})
	return s
}

// run starts the server listening on addr and waits for it to answer HTTP.
func (s *Server) run(t testing.TB, bin, addr, sidecar string) error {
	cmd := exec.Command(bin,
		"--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
		"--port", addr, "--quiet",
		"posix", "--sidecar", sidecar, s.Dir)
	cmd.Env = cleanEnv()
	var out testproc.Output
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			break // any answer, even 403, means it serves
		}
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw on %s exited: %v\n%s", addr, err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("versitygw on %s did not answer within 30s\n%s", addr, out.String())
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && out.Len() > 0 {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	return nil
}

// Bucket creates a new, empty bucket with a random name and returns the name. The bucket goes
// when the server does.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := "test-" + testproc.RandomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3test: creating bucket %s at %s: %v", name, s.Endpoint, err)
	}
	return name
}

// Client returns an S3 client of the server's root user, for checks behind the back of the
// code under test.
func (s *Server) Client() *s3.Client { return s.client }

// SetEnv points the standard AWS configuration chain at s for the rest of the test: it sets
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL, and hides the
// user's own AWS configuration files and profile, and disables the EC2 instance metadata
// lookups. Like t.Setenv, it cannot be used in parallel tests.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	Isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_REGION", s.Region)
	t.Setenv("AWS_ENDPOINT_URL", s.Endpoint)
}

// Isolate clears the AWS configuration a developer's environment may hold (credentials,
// profile, config files, endpoints) and disables EC2 instance metadata lookups for the rest of
// the test, so that it talks to no other S3 and no metadata service. Like t.Setenv, it cannot
// be used in parallel tests.
func Isolate(t testing.TB) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") && k != "AWS_CONFIG_FILE" && k != "AWS_SHARED_CREDENTIALS_FILE" && k != "AWS_EC2_METADATA_DISABLED" {
			t.Setenv(k, "") // restores the old value after the test
			os.Unsetenv(k)
		}
	}
}

// Binary returns the path of the versitygw binary at Version in .cache/bin below the module
// root, building it there first if it is missing or of another version. It fails the test when
// the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	root, err := testproc.ModuleRoot()
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	dir := filepath.Join(root, ".cache", "bin")
	bin := filepath.Join(dir, "versitygw")
	if !upToDate(bin) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("s3test: %v", err)
		}
		unlock, err := testproc.Lock(filepath.Join(dir, ".versitygw.lock"))
		if err != nil {
			t.Fatalf("s3test: locking the versitygw build: %v", err)
		}
		defer unlock()
		if !upToDate(bin) { // another test binary may have built it while we waited
			t.Logf("s3test: building versitygw %s into %s (once; about 90s)", Version, dir)
			start := time.Now()
			if err := install(dir); err != nil {
				t.Fatalf("s3test: %v", err)
			}
			t.Logf("s3test: built versitygw in %v", time.Since(start).Round(time.Second))
		}
	}
	return bin
}

// upToDate reports whether bin exists and was built from versitygw at Version.
func upToDate(bin string) bool {
	if _, err := os.Stat(bin); err != nil {
		return false
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/versity/versitygw" {
			return f[2] == Version
		}
	}
	return false
}

// install runs `go install` of versitygw at Version into dir.
func install(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", modulePath+"@"+Version)
	cmd.Dir = os.TempDir() // outside the module: its go.mod and go.work play no part
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go install %s@%s: %v\n%s", modulePath, Version, err, out)
	}
	return nil
}

// cleanEnv is the environment without the variables versitygw reads its own settings from, so
// a developer's configuration cannot change the test server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VGW_") || strings.HasPrefix(k, "ROOT_") || k == "LOGFILE" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
