// Package kinesistest runs a real Kinesis Data Streams server for tests: kinesalite, an
// implementation of the Kinesis API on Node.js with an in-memory store, listening on the
// loopback interface. Tests of the Kinesis connector start one with Start and make a fresh
// stream per test with Server.CreateStream.
//
// kinesalite is pinned at Version and lives in .cache/kinesalite below the module root. When it
// is missing, Start installs it there itself with `npm install` (about 20 seconds, once per
// machine), holding a lock file so that test binaries of several packages running at once
// install it only once; so a machine with Go, Node.js and npm runs the tests. The install skips
// install scripts: kinesalite keeps its data in memdown unless given a path, so leveldown's
// native build is never needed.
//
// # Against real AWS or another server
//
// When the environment variable RUNNEL_KINESIS_ENDPOINT is set, Start starts nothing and the
// tests run against that server instead: "aws" means AWS's own endpoint for the region, any
// other value is the base URL of a Kinesis-compatible server (a shared kinesalite, LocalStack).
// Region and credentials then come from the standard AWS configuration chain (AWS_REGION,
// AWS_PROFILE, AWS_ACCESS_KEY_ID, ...; region "us-east-1" if none is set), and
// RUNNEL_KINESIS_STREAM_PREFIX (default "runnel-test-") starts the name of every stream the
// tests create, so that an IAM policy can confine them. Each test creates its own streams and
// deletes them when it ends; real streams cost money while they exist. Server.External says
// which mode is on, for tests that need a local server (a proxy in front of it, say).
//
// kinesalite speaks the JSON protocol over HTTP, accepts any credentials, and implements
// neither enhanced fan-out (SubscribeToShard, RegisterStreamConsumer) nor UpdateShardCount;
// SplitShard and MergeShards work.
package kinesistest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/logging"

	"github.com/runnel-io/runnel/internal/testing/testproc"
)

// Version is the kinesalite release Start runs.
const Version = "3.3.3"

// Server is a running kinesalite. Its fields are set by Start and read-only afterwards; it is
// safe for concurrent use.
type Server struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT".
	Endpoint string
	// Region is the region clients sign for; kinesalite accepts any.
	Region string
	// External is true when the tests run against a server named by RUNNEL_KINESIS_ENDPOINT
	// rather than a kinesalite of their own. Endpoint is then that URL, or empty for AWS.
	External bool

	client *kinesis.Client
	prefix string        // of stream names
	wait   time.Duration // for a stream to become active
	awsCfg aws.Config    // of an external server's clients
}

// Environment variables that point the tests at another server; see the package comment.
const (
	EnvEndpoint     = "RUNNEL_KINESIS_ENDPOINT"
	EnvStreamPrefix = "RUNNEL_KINESIS_STREAM_PREFIX"
)

// startExternal returns the server named by RUNNEL_KINESIS_ENDPOINT.
func startExternal(t testing.TB, endpoint string) *Server {
	t.Helper()
	var opts []func(*config.LoadOptions) error
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion("us-east-1"))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		t.Fatalf("kinesistest: loading the AWS configuration for %s=%s: %v", EnvEndpoint, endpoint, err)
	}
	s := &Server{Region: cfg.Region, External: true, prefix: "runnel-test-", wait: 3 * time.Minute, awsCfg: cfg}
	if p := os.Getenv(EnvStreamPrefix); p != "" {
		s.prefix = p
	}
	if endpoint != "aws" {
		s.Endpoint = endpoint
	}
	s.client = s.ClientAt(s.Endpoint)
	return s
}

// ClientAt returns a client with the server's region and credentials that sends its calls to
// endpoint instead (a Proxy's, say); an empty endpoint means AWS's own.
func (s *Server) ClientAt(endpoint string) *kinesis.Client {
	if !s.External {
		return NewClient(endpoint, s.Region)
	}
	return kinesis.NewFromConfig(s.awsCfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Start runs a kinesalite for the test on a free loopback port, installing it first if
// .cache/kinesalite lacks it, and waits until it answers. The server is killed in t.Cleanup.
// Start fails the test (t.Fatal) when the server cannot be installed or started.
//
// With RUNNEL_KINESIS_ENDPOINT set, Start returns that server instead (see the package comment).
func Start(t testing.TB) *Server {
	t.Helper()
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		return startExternal(t, ep)
	}
	cli := Install(t)
	s := &Server{Region: "us-east-1", prefix: "test-", wait: 30 * time.Second}
	var lastErr error
	for range 3 { // the free port may be taken before the server binds it
		port, err := testproc.FreePort()
		if err != nil {
			t.Fatalf("kinesistest: finding a free port: %v", err)
		}
		s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		if lastErr = s.run(t, cli, port); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("kinesistest: starting kinesalite: %v", lastErr)
	}
	s.client = NewClient(s.Endpoint, s.Region)
	return s
}

// NewClient returns a Kinesis client for the kinesalite (or any endpoint) at endpoint, with
// static test credentials, no retries beyond the SDK's standard three attempts and no logging.
func NewClient(endpoint, region string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("runnel-test", "runnel-test-secret", ""),
		Logger:       logging.Nop{},
	})
}

// survivePreload is loaded into kinesalite's Node.js process. kinesalite 3.3.3 rethrows every
// error of an incoming request (index.js: req.on('error', function(err) { throw err })), and
// Node.js since version 15 emits one, ECONNRESET "aborted", whenever a client's connection
// closes before its request was answered: a reader closed in the middle of a GetRecords call,
// a cut Proxy or a killed client brought the whole server down. The preload swallows exactly
// that error; every other uncaught exception ends the process as before.
const survivePreload = `process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET') {
    return
  }
  console.error(err)
  process.exit(1)
})
`

// run starts the server listening on port and waits for it to answer HTTP.
func (s *Server) run(t testing.TB, cli string, port int) error {
	preload := filepath.Join(t.TempDir(), "survive-aborted-requests.js")
	if err := os.WriteFile(preload, []byte(survivePreload), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("node", "--require="+preload, cli, "--port", fmt.Sprint(port),
		"--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "50", "--shardLimit", "100")
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
			break // any answer, even an authentication error, means it serves
		}
		select {
		case err := <-exited:
			return fmt.Errorf("kinesalite on port %d exited: %v\n%s", port, err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("kinesalite on port %d did not answer within 30s\n%s", port, out.String())
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && out.Len() > 0 {
			t.Logf("kinesalite output:\n%s", out.String())
		}
	})
	return nil
}

// Client returns a client of the server, for setting up streams and checking behind the back
// of the code under test.
func (s *Server) Client() *kinesis.Client { return s.client }

// CreateStream creates a provisioned stream with the given number of shards and a random name
// (starting with the stream prefix), waits until it is active, deletes it in t.Cleanup and
// returns its name.
func (s *Server) CreateStream(t testing.TB, shards int) string {
	t.Helper()
	name := s.prefix + testproc.RandomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards)),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
	}); err != nil {
		t.Fatalf("kinesistest: creating stream %s at %s: %v", name, s.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.client.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name),
			EnforceConsumerDeletion: aws.Bool(true)}); err != nil {
			t.Errorf("kinesistest: deleting stream %s: %v", name, err)
		}
	})
	s.WaitActive(t, name)
	return name
}

// WaitActive waits until the stream is active again, after a SplitShard or MergeShards. It fails
// the test if that takes more than 30 seconds (3 minutes on an external server).
func (s *Server) WaitActive(t testing.TB, stream string) {
	t.Helper()
	deadline := time.Now().Add(s.wait)
	for {
		out, err := s.client.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("kinesistest: describing stream %s: %v", stream, err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kinesistest: stream %s is %s after %v", stream, out.StreamDescriptionSummary.StreamStatus, s.wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Install returns the path of kinesalite's cli.js at Version in .cache/kinesalite below the
// module root, installing it there first with npm if it is missing or of another version. It
// fails the test when the install fails.
func Install(t testing.TB) string {
	t.Helper()
	root, err := testproc.ModuleRoot()
	if err != nil {
		t.Fatalf("kinesistest: %v", err)
	}
	prefix := filepath.Join(root, ".cache", "kinesalite")
	cli := filepath.Join(prefix, "node_modules", "kinesalite", "cli.js")
	if !upToDate(prefix) {
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			t.Fatalf("kinesistest: %v", err)
		}
		unlock, err := testproc.Lock(filepath.Join(prefix, ".install.lock"))
		if err != nil {
			t.Fatalf("kinesistest: locking the kinesalite install: %v", err)
		}
		defer unlock()
		if !upToDate(prefix) { // another test binary may have installed it while we waited
			t.Logf("kinesistest: installing kinesalite %s into %s (once; about 20s)", Version, prefix)
			start := time.Now()
			if err := install(prefix); err != nil {
				t.Fatalf("kinesistest: %v", err)
			}
			t.Logf("kinesistest: installed kinesalite in %v", time.Since(start).Round(time.Second))
		}
	}
	return cli
}

// upToDate reports whether kinesalite at Version is installed below prefix.
func upToDate(prefix string) bool {
	b, err := os.ReadFile(filepath.Join(prefix, "node_modules", "kinesalite", "package.json"))
	if err != nil {
		return false
	}
	var pkg struct{ Version string }
	return json.Unmarshal(b, &pkg) == nil && pkg.Version == Version
}

// install runs `npm install` of kinesalite at Version below prefix. Install scripts are
// skipped: the only one is leveldown's native build, which the in-memory store does not use.
func install(prefix string) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("installing kinesalite needs Node.js and npm: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund",
		"--ignore-scripts", "--loglevel=error", "kinesalite@"+Version)
	cmd.Dir = prefix
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm install kinesalite@%s: %v\n%s", Version, err, out)
	}
	if !upToDate(prefix) {
		return fmt.Errorf("npm install kinesalite@%s left no kinesalite %s in %s\n%s", Version, Version, prefix, out)
	}
	return nil
}
