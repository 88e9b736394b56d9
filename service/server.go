// Package service is Runnel's managed service: `runnel server`. It speaks the API of Amazon
// Managed Service for Apache Flink (kinesisanalyticsv2, AWS JSON 1.1), so the AWS CLI, the
// SDKs and infrastructure tools work against it, and runs each application as a supervised
// process: started, stopped with a snapshot, updated, rolled back, scaled and restarted after
// crashes, its metadata in an embedded transactional store that survives kill -9.
//
// The files: server.go (Server, Config, recovery after a restart), api.go (the operations),
// describe.go (the answers' shapes), config.go (configurations and versions), code.go (the
// application ZIPs), run.go (carrying out the lifecycle's actions with the supervisor),
// logs.go (application logs), auth.go (SigV4). The lifecycle itself is package
// service/lifecycle, the store service/store, processes service/supervisor.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/awsconn"
	"github.com/runnel-io/runnel/service/awsjson"
	"github.com/runnel-io/runnel/service/lifecycle"
	"github.com/runnel-io/runnel/service/store"
	"github.com/runnel-io/runnel/service/supervisor"
)

// Config configures a Server. The zero Config is valid: each field documents its default.
type Config struct {
	// Listen is the API's address. Default 127.0.0.1:8080.
	Listen string
	// DataDir holds the metadata store, application code, logs and (without Storage)
	// checkpoints and snapshots. Default ./runnel-data.
	DataDir string
	// Storage is where checkpoints and snapshots go: a directory or s3://bucket/prefix.
	// Default: DataDir/storage.
	Storage string
	// Region and AccountID make the ARNs (arn:aws:kinesisanalytics:<region>:<account>:
	// application/<name>). Defaults us-east-1 and 123456789012.
	Region, AccountID string
	// Credentials are the access keys and secrets requests must be signed with (SigV4). Empty:
	// any signature is accepted, which New allows only on a loopback address.
	Credentials map[string]string
	// S3Endpoint is the endpoint of an S3-compatible store: application code in S3
	// (S3ContentLocation) is read from it, and an s3:// Storage that names no endpoint of its
	// own (a "?endpoint=" parameter) is on it. Default: the AWS configuration chain's.
	S3Endpoint string
	// Logger receives the server's logs. Default: none.
	Logger *slog.Logger
	// StartTimeout bounds how long a process may take to run its job. Default 60 s.
	StartTimeout time.Duration
	// AppEnv is added to every application process's environment (AWS credentials and
	// endpoints for its connectors, say).
	AppEnv []string
	// MetricsInterval is how often running applications are sampled for metrics and the
	// autoscaler. Default 5 s.
	MetricsInterval time.Duration
	// Autoscale configures autoscaling (for applications with AutoScalingEnabled).
	Autoscale Autoscale
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "runnel-data"
	}
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.Storage == "" {
		c.Storage = filepath.Join(c.DataDir, "storage")
	}
	if c.S3Endpoint != "" && strings.HasPrefix(c.Storage, "s3://") && !strings.Contains(c.Storage, "endpoint=") {
		sep := "?"
		if strings.Contains(c.Storage, "?") {
			sep = "&"
		}
		c.Storage += sep + "endpoint=" + url.QueryEscape(c.S3Endpoint)
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "123456789012"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.MetricsInterval <= 0 {
		c.MetricsInterval = 5 * time.Second
	}
	c.Autoscale = c.Autoscale.withDefaults()
	return c
}

// Server is the managed service. Make one with New, serve it with Serve, end it with Close.
type Server struct {
	cfg   Config
	store store.Store
	log   *slog.Logger
	api   *awsjson.Handler

	ctx    context.Context // ends when the server closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines carrying out actions and watching processes

	mu   sync.Mutex // guards apps
	apps map[string]*appRT

	metricsMu sync.Mutex // guards metrics
	metrics   map[string]*appMetrics

	s3once sync.Once
	s3     *awss3.Client
	s3err  error
}

// appRT is the runtime part of an application: its lock (operations on one application are
// serialized), its process and its log.
type appRT struct {
	mu        sync.Mutex
	proc      *supervisor.Process
	stopped   bool // the server stops the process: its exit is no crash
	log       *rotatingLog
	backoff   time.Duration // the last restart's delay after a crash
	nextDelay time.Duration // the delay before the next StartProcess: a restart after a crash
	started   time.Time     // when the process last reached RUNNING
}

// New opens the store in cfg.DataDir and returns the Server. It refuses to accept unsigned
// requests on an address other than loopback. Applications that were running when the
// server stopped are started again by Recover.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Credentials) == 0 && !loopback(cfg.Listen) {
		return nil, fmt.Errorf("service: %s is not a loopback address and no credentials are configured: requests could not be authenticated (give --credentials, or listen on 127.0.0.1)", cfg.Listen)
	}
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, store: st, log: cfg.Logger, ctx: ctx, cancel: cancel, apps: map[string]*appRT{}, metrics: map[string]*appMetrics{}}
	s.api = s.handler()
	return s, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DataDir returns the server's data directory (absolute).
func (s *Server) DataDir() string { return s.cfg.DataDir }

// ARN returns the ARN of application name.
func (s *Server) ARN(name string) string {
	return fmt.Sprintf("arn:aws:kinesisanalytics:%s:%s:application/%s", s.cfg.Region, s.cfg.AccountID, name)
}

func (s *Server) rt(name string) *appRT {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[name]
	if a == nil {
		a = &appRT{log: newRotatingLog(filepath.Join(s.cfg.DataDir, "apps", name, "logs"))}
		s.apps[name] = a
	}
	return a
}

func (s *Server) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[name]; a != nil {
		a.log.Close()
	}
	delete(s.apps, name)
}

// Handler returns the server's HTTP handler: the API on POST /, the application logs on
// GET /v1/applications/<name>/logs, Prometheus metrics on GET /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", s.api)
	mux.HandleFunc("GET /v1/applications/{name}/logs", s.serveLogs)
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

// Serve serves the API on cfg.Listen until ctx ends, then closes the server. ready, if set,
// is called with the address once the server listens.
func (s *Server) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	// Applications are back in the statuses a restart leads to before any request is served.
	if err := s.Recover(); err != nil {
		s.log.Error("recovering applications", "err", err)
	}
	s.wg.Go(s.sampleLoop)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if len(s.cfg.Credentials) == 0 {
		s.log.Warn("no credentials configured: the API accepts any signature (loopback only)", "address", ln.Addr().String())
	}
	s.log.Info("serving the Managed Flink API", "address", "http://"+ln.Addr().String(), "data_dir", s.cfg.DataDir, "storage", s.cfg.Storage)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		s.Close()
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	s.Close()
	return nil
}

// Close stops every application process (they restart from their latest checkpoint when the
// server starts again) and closes the store.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	var procs []*supervisor.Process
	for _, a := range s.apps {
		a.mu.Lock()
		if a.proc != nil {
			a.stopped = true
			procs = append(procs, a.proc)
		}
		a.mu.Unlock()
	}
	s.mu.Unlock()
	for _, p := range procs {
		p.Stop(10 * time.Second)
	}
	s.wg.Wait()
	s.mu.Lock()
	for _, a := range s.apps {
		a.log.Close()
	}
	s.mu.Unlock()
	return s.store.Close()
}

// Recover brings applications back after the server restarted: a process that survived is
// ended; an application that was running (or on its way) is started again from its latest
// snapshot, and an operation that was in progress ends FAILED, saying so; one that was
// stopping is READY; one being deleted is deleted.
func (s *Server) Recover() error {
	var names []string
	err := s.store.View(func(tx store.Tx) error {
		for k := range tx.Scan("apps/") {
			names = append(names, nameOfKey(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := s.recoverApp(name); err != nil {
			s.log.Error("recovering an application", "application", name, "err", err)
		}
	}
	return nil
}

func (s *Server) recoverApp(name string) error {
	a := s.rt(name)
	a.mu.Lock()
	defer a.mu.Unlock()
	var acts []lifecycle.Action
	err := s.store.Update(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		if r.PID > 0 {
			endSurvivor(r.PID, s.codeDir(name))
			r.PID = 0
		}
		now := time.Now()
		st := &r.State
		var ended []*lifecycle.Operation
		if st.Op != nil {
			op := *st.Op
			op.Status, op.End, op.Error = lifecycle.Failed, now, "the server restarted during the operation"
			ended = append(ended, &op)
		}
		switch st.Status {
		case lifecycle.Running, lifecycle.Starting, lifecycle.Updating, lifecycle.Autoscaling, lifecycle.RollingBack:
			// Started again as a StartApplication of the server's own: STARTING until it runs.
			st.Op, st.Flow, st.Status = nil, lifecycle.FlowNone, lifecycle.Ready
			st.Restarts++
			op, startActs, err := st.Start(now, lifecycle.Restore{Mode: lifecycle.RestoreLatest, AllowNonRestoredState: r.Restore.AllowNonRestoredState})
			if err != nil {
				return err
			}
			ended = append(ended, op)
			acts = append(acts, startActs...)
			s.log.Info("restarting an application that ran when the server stopped", "application", name, "version", st.Version)
		case lifecycle.Stopping, lifecycle.ForceStopping:
			st.Op, st.Flow, st.Status, st.Running = nil, lifecycle.FlowNone, lifecycle.Ready, 0
			if len(ended) > 0 {
				ended[0].Status, ended[0].Error = lifecycle.Successful, ""
			}
		case lifecycle.Deleting:
			acts = append(acts, lifecycle.Forget{})
		}
		if err := saveOps(tx, r, ended...); err != nil {
			return err
		}
		return put(tx, appKey(name), r)
	})
	if err != nil {
		return err
	}
	s.carryOut(name, a, acts)
	return nil
}

// endSurvivor kills process pid if it is still an application process of the code below dir
// (a server that died without taking its children along), and waits for it to be gone.
func endSurvivor(pid int, dir string) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), dir) {
		return
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	_ = p.Kill()
	for range 100 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond) // waiting for the kernel to reap a process that is not our child
	}
}

// s3Client returns the client application code is read from S3 with: awsconn's configuration
// with the server's S3 endpoint and region.
func (s *Server) s3Client(ctx context.Context) (*awss3.Client, error) {
	s.s3once.Do(func() {
		conn := awsconn.Config{Endpoint: s.cfg.S3Endpoint, Region: s.cfg.Region}
		cfg, err := conn.Load(ctx)
		if err != nil {
			s.s3err = awsErr("InvalidArgumentException", "loading the AWS configuration to read code from S3: %v", err)
			return
		}
		s.s3 = awss3.NewFromConfig(cfg, func(o *awss3.Options) {
			o.BaseEndpoint = conn.BaseEndpoint(o.BaseEndpoint)
			o.UsePathStyle = conn.UsePathStyle(o.BaseEndpoint)
		})
	})
	return s.s3, s.s3err
}

func awsErr(typ, format string, args ...any) error { return awsjson.Errorf(typ, format, args...) }

func notFound(format string, args ...any) error {
	return awsjson.Errorf("ResourceNotFoundException", format, args...)
}
