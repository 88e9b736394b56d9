package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	jsonformat "github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// The Kinesis benchmark measures a Kinesis → map → S3 job in events per second, against
// kinesalite and an S3-compatible store (versitygw) on this machine. It puts --records JSON
// click events into a new stream of --shards shards first (not measured by the job's figure),
// then reads every shard to its end with plain GetRecords calls, one goroutine per shard,
// without a job, before the job and again after it (kinesalite's JavaScript gets faster as V8
// compiles it): the better rate is the one at which kinesalite serves records at all, a
// ceiling for the job.
// Then the job reads the stream from TRIM_HORIZON, parses each event, derives a page view and
// writes it as a JSON line through the exactly-once S3 sink, with checkpoints. The job's figure
// is the records over the time from its start until the last record passed the map; the
// committed figure runs until the checkpoint after that completed, and the output is counted
// in the bucket to confirm every record arrived once.
//
// kinesalite is JavaScript on one thread with an in-memory store: its read rate is far below a
// real Kinesis shard's (2 MB/s per shard, 5 reads per second) and usually the bottleneck, so the
// ceiling is printed beside the job's rate.
//
// Servers: --kinesis-endpoint and --s3-endpoint point at running ones (start them with
// `npx kinesalite@3.3.3 --port 4567` and `scripts/versitygw.sh run DIR 7070`). Without them
// the benchmark starts kinesalite and versitygw itself from .cache below the module root (the
// working directory must be inside the repository), where the tests install them
// (`go test ./internal/testing/...` or scripts/versitygw.sh), and stops them at the end.

// benchEvent is the record put into the stream.
type benchEvent struct {
	ID   int64  `json:"id"`
	User int64  `json:"user"`
	Page string `json:"page"`
	TS   int64  `json:"ts"`
}

// benchView is what the job writes: the event with its page's section and minute.
type benchView struct {
	ID      int64  `json:"id"`
	User    int64  `json:"user"`
	Page    string `json:"page"`
	Section string `json:"section"`
	Minute  int64  `json:"minute"`
}

// kinesisResult is the benchmark's result (the JSON of --json).
type kinesisResult struct {
	Records     int64   `json:"records"`
	Shards      int     `json:"shards"`
	Parallelism int     `json:"parallelism"`
	IntervalSec float64 `json:"checkpoint_interval_seconds"`
	// PutPerSec is the rate of the pre-put through the Kinesis sink (PutRecords).
	PutPerSec float64 `json:"put_events_per_second"`
	// RawReadPerSec is kinesalite's GetRecords rate alone, the better of a read before the
	// job and one after it: the ceiling.
	RawReadPerSec float64 `json:"raw_getrecords_events_per_second"`
	// JobPerSec is records / (last record through the map − job start).
	JobPerSec float64 `json:"job_events_per_second"`
	// CommittedPerSec is records / (checkpoint after the last record completed − job start).
	CommittedPerSec float64 `json:"committed_events_per_second"`
	Checkpoints     int64   `json:"checkpoints"`
	// Objects and Lines are what the bucket holds after the job.
	Objects int   `json:"objects"`
	Lines   int64 `json:"lines"`
}

func runBenchKinesis(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench kinesis", "bench kinesis [--records 200000] [--kinesis-endpoint URL --s3-endpoint URL] [flags]", stderr)
	records := fs.Int64("records", 200_000, "events to put into the stream and read back")
	shards := fs.Int("shards", 4, "shards of the stream")
	parallelism := fs.Int("parallelism", 2, "parallel subtasks per operator")
	interval := fs.Duration("checkpoint-interval", time.Second, "take a checkpoint this often")
	kinEndpoint := fs.String("kinesis-endpoint", "", "URL of a running kinesalite (default: start .cache/kinesalite)")
	s3Endpoint := fs.String("s3-endpoint", "", "URL of a running S3-compatible store (default: start .cache/bin/versitygw)")
	s3Access := fs.String("s3-access-key", "runnel", "access key for --s3-endpoint (scripts/versitygw.sh run uses the default)")
	s3Secret := fs.String("s3-secret-key", "runnelsecret", "secret key for --s3-endpoint")
	region := fs.String("region", "us-east-1", "region the clients sign for")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	quiet := fs.Bool("quiet", false, "do not print progress to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, format+"\n", a...)
		return errUsage
	}
	switch {
	case *records <= 0:
		return bad("--records %d: must be positive", *records)
	case *shards <= 0 || *shards > 100:
		return bad("--shards %d: want 1 to 100", *shards)
	case *parallelism <= 0:
		return bad("--parallelism %d: must be positive", *parallelism)
	case *interval <= 0:
		return bad("--checkpoint-interval %v: must be positive", *interval)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	logf := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}

	var servers []*localServer
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	s3conn := s3.Connection{Endpoint: *s3Endpoint, Region: *region, AccessKeyID: *s3Access, SecretAccessKey: *s3Secret}
	if *kinEndpoint == "" {
		s, err := startKinesalite(ctx)
		if err != nil {
			return fmt.Errorf("bench kinesis: %w (or pass --kinesis-endpoint)", err)
		}
		servers = append(servers, s)
		*kinEndpoint = s.endpoint
		logf("started kinesalite at %s", s.endpoint)
	}
	if *s3Endpoint == "" {
		s, conn, err := startVersitygw(ctx, *region)
		if err != nil {
			return fmt.Errorf("bench kinesis: %w (or pass --s3-endpoint)", err)
		}
		servers = append(servers, s)
		s3conn = conn
		logf("started versitygw at %s", s.endpoint)
	}
	b := &kinesisBench{
		kin: awskinesis.New(awskinesis.Options{BaseEndpoint: aws.String(*kinEndpoint), Region: *region,
			Credentials: credentials.NewStaticCredentialsProvider("runnel", "runnel", ""), Logger: logging.Nop{}}),
		s3: awss3.New(awss3.Options{BaseEndpoint: aws.String(s3conn.Endpoint), Region: *region, UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(s3conn.AccessKeyID, s3conn.SecretAccessKey, ""), Logger: logging.Nop{}}),
		s3conn: s3conn, records: *records, shards: *shards, logf: logf,
	}
	r, err := b.run(ctx, *parallelism, *interval)
	if err != nil {
		return fmt.Errorf("bench kinesis: %w", err)
	}
	if *asJSON {
		out, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	}
	fmt.Fprintf(stdout, "Kinesis → map → S3 (JSON lines, exactly-once), %d events, %d shards, parallelism %d, checkpoints every %v\n",
		r.Records, r.Shards, r.Parallelism, *interval)
	fmt.Fprintf(stdout, "  put (PutRecords, before the job):       %10.0f events/s\n", r.PutPerSec)
	fmt.Fprintf(stdout, "  kinesalite GetRecords alone (ceiling):  %10.0f events/s\n", r.RawReadPerSec)
	fmt.Fprintf(stdout, "  job, through the map:                   %10.0f events/s (%.0f%% of the ceiling)\n", r.JobPerSec, 100*r.JobPerSec/r.RawReadPerSec)
	fmt.Fprintf(stdout, "  job, committed to S3:                   %10.0f events/s\n", r.CommittedPerSec)
	fmt.Fprintf(stdout, "  %d checkpoints; the bucket holds %d objects, %d lines\n", r.Checkpoints, r.Objects, r.Lines)
	return nil
}

// kinesisBench holds the clients and sizes of one run.
type kinesisBench struct {
	kin     *awskinesis.Client
	s3      *awss3.Client
	s3conn  s3.Connection
	records int64
	shards  int
	logf    func(format string, a ...any)
}

func (b *kinesisBench) run(ctx context.Context, parallelism int, interval time.Duration) (*kinesisResult, error) {
	r := &kinesisResult{Records: b.records, Shards: b.shards, Parallelism: parallelism, IntervalSec: interval.Seconds()}
	name := "runnel-bench-" + randomName()
	if err := b.createStream(ctx, name); err != nil {
		return nil, err
	}
	bucket := "runnel-bench-" + randomName()
	if _, err := b.s3.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return nil, fmt.Errorf("creating bucket %s: %w", bucket, err)
	}

	b.logf("putting %d events into %s", b.records, name)
	start := time.Now()
	if err := b.put(ctx, name); err != nil {
		return nil, err
	}
	r.PutPerSec = float64(b.records) / time.Since(start).Seconds()

	b.logf("reading them back with GetRecords alone")
	var err error
	if r.RawReadPerSec, err = b.rawRate(ctx, name); err != nil {
		return nil, err
	}
	b.logf("running the job")
	if err := b.job(ctx, r, name, bucket, parallelism, interval); err != nil {
		return nil, err
	}
	// Once more after the job, with kinesalite as warm as the job found it; the better of the
	// two is the ceiling.
	b.logf("reading them back with GetRecords alone again")
	again, err := b.rawRate(ctx, name)
	if err != nil {
		return nil, err
	}
	r.RawReadPerSec = max(r.RawReadPerSec, again)
	if r.Objects, r.Lines, err = b.countOutput(ctx, bucket); err != nil {
		return nil, err
	}
	if r.Lines != b.records {
		return nil, fmt.Errorf("the bucket holds %d lines, want %d", r.Lines, b.records)
	}
	return r, nil
}

func (b *kinesisBench) createStream(ctx context.Context, name string) error {
	if _, err := b.kin.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(b.shards))}); err != nil {
		return fmt.Errorf("creating stream %s: %w", name, err)
	}
	w := awskinesis.NewStreamExistsWaiter(b.kin, func(o *awskinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &awskinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("waiting for stream %s: %w", name, err)
	}
	return nil
}

// put puts the events through the connector's sink, from one writer per shard at once.
func (b *kinesisBench) put(ctx context.Context, name string) error {
	sink, err := kinesis.NewSink(b.kin, kinesis.SinkConfig[benchEvent]{
		Stream:       name,
		Encode:       func(e benchEvent) ([]byte, error) { return json.Marshal(e) },
		PartitionKey: func(e benchEvent) string { return strconv.FormatInt(e.User, 10) },
	})
	if err != nil {
		return err
	}
	errs := make([]error, b.shards)
	var wg sync.WaitGroup
	for w := range b.shards {
		wg.Go(func() {
			errs[w] = func() error {
				wr, err := sink.NewWriter(ctx, connector.SinkContext{Subtask: w, Parallelism: b.shards})
				if err != nil {
					return err
				}
				defer wr.Close()
				for id := int64(w); id < b.records; id += int64(b.shards) {
					e := benchEvent{ID: id, User: id % 10_007, Page: fmt.Sprintf("/s%d/p%d", id%17, id%1009), TS: 1_700_000_000_000 + id}
					if err := wr.Write(ctx, e, e.TS); err != nil {
						return err
					}
				}
				_, err = wr.PreCommit(ctx, 1) // flushes
				return err
			}()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rawRate returns the rate of readRaw, checking that it read every record.
func (b *kinesisBench) rawRate(ctx context.Context, name string) (float64, error) {
	start := time.Now()
	n, err := b.readRaw(ctx, name)
	if err != nil {
		return 0, err
	}
	if n != b.records {
		return 0, fmt.Errorf("GetRecords read %d records of the %d put", n, b.records)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// readRaw reads every shard from TRIM_HORIZON to its end, one goroutine per shard, and returns
// the records read.
func (b *kinesisBench) readRaw(ctx context.Context, name string) (int64, error) {
	out, err := b.kin.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		return 0, fmt.Errorf("listing the shards of %s: %w", name, err)
	}
	var total atomic.Int64
	errs := make([]error, len(out.Shards))
	var wg sync.WaitGroup
	for i, sh := range out.Shards {
		wg.Go(func() {
			it, err := b.kin.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String(name),
				ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				errs[i] = fmt.Errorf("shard %s: %w", aws.ToString(sh.ShardId), err)
				return
			}
			iter := it.ShardIterator
			for iter != nil {
				got, err := b.kin.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10_000)})
				if err != nil {
					errs[i] = fmt.Errorf("shard %s: %w", aws.ToString(sh.ShardId), err)
					return
				}
				total.Add(int64(len(got.Records)))
				if len(got.Records) == 0 && aws.ToInt64(got.MillisBehindLatest) == 0 {
					return // at the end of what was put
				}
				iter = got.NextShardIterator
			}
		})
	}
	wg.Wait()
	return total.Load(), errors.Join(errs...)
}

// job runs the measured job until the checkpoint after the last record completed.
func (b *kinesisBench) job(ctx context.Context, r *kinesisResult, name, bucket string, parallelism int, interval time.Duration) error {
	ckDir, cleanup, err := scratchDir("", "runnel-checkpoints-")
	if err != nil {
		return err
	}
	defer cleanup()
	st, err := checkpoint.NewLocal(ckDir)
	if err != nil {
		return err
	}
	src, err := kinesis.NewSource(b.kin, kinesis.SourceConfig{Stream: name})
	if err != nil {
		return err
	}
	dec, err := jsonformat.NewDecoder[benchEvent]()
	if err != nil {
		return err
	}
	enc, err := jsonformat.NewEncoder[benchView]()
	if err != nil {
		return err
	}
	sink, err := s3.NewSink(fmt.Sprintf("s3://%s/views", bucket), func(dst []byte, v benchView) []byte {
		dst, _ = enc.Append(dst, v) // benchView has nothing that fails to encode
		return dst
	}, s3.Delimiter(""), s3.NoPartitions(), s3.SinkConnection(b.s3conn))
	if err != nil {
		return err
	}

	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		seen    atomic.Int64
		lastID  atomic.Int64 // of the last completed checkpoint
		doneAt  atomic.Int64 // lastID when the last record passed the map, plus one
		through atomic.Int64 // when it did, in ns since start
	)
	var committed, checkpoints atomic.Int64 // ns since start; completed checkpoints by then
	start := time.Now()
	cfg := stream.Config{
		Parallelism:     parallelism,
		MetricsInterval: 10 * time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			c := s.Checkpoints
			if c == nil {
				return
			}
			lastID.Store(c.LastID)
			// The checkpoint after the one running when the last record went through was
			// triggered after it: once that completes, every record is committed.
			if d := doneAt.Load(); d > 0 && c.LastID >= d+1 && committed.Load() == 0 {
				committed.Store(int64(time.Since(start)))
				checkpoints.Store(c.Completed)
				cancel(errBenchDone)
			}
		}),
		Checkpoints: stream.Checkpoints{Storage: st, Coordinator: checkpoint.Config{Interval: interval}},
	}
	env := stream.New("kinesis bench", cfg)
	recs := stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}).Name("kinesis").Uid("kinesis")
	views := stream.Map(recs, func(rec kinesis.Record) benchView {
		var e benchEvent
		if err := dec.Unmarshal(rec.Data, &e); err != nil {
			panic(fmt.Sprintf("shard %s, record %s: %v", rec.ShardID, rec.SequenceNumber, err))
		}
		section, _, _ := strings.Cut(strings.TrimPrefix(e.Page, "/"), "/")
		if seen.Add(1) == b.records {
			through.Store(int64(time.Since(start)))
			doneAt.Store(lastID.Load() + 1)
		}
		return benchView{ID: e.ID, User: e.User, Page: e.Page, Section: section, Minute: e.TS / 60_000}
	}).Name("page views").Uid("views")
	views.SinkTo(sink).Name("s3").Uid("s3")
	err = env.Execute(jobCtx)
	switch cause := context.Cause(jobCtx); {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(cause, errBenchDone):
	case err != nil:
		return err
	default:
		return errors.New("the job ended before it read every record")
	}
	r.JobPerSec = float64(b.records) / time.Duration(through.Load()).Seconds()
	r.CommittedPerSec = float64(b.records) / time.Duration(committed.Load()).Seconds()
	r.Checkpoints = checkpoints.Load()
	return nil
}

// countOutput returns the objects and lines below the job's prefix of bucket.
func (b *kinesisBench) countOutput(ctx context.Context, bucket string) (objects int, lines int64, err error) {
	p := awss3.NewListObjectsV2Paginator(b.s3, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("views/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("listing bucket %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			out, err := b.s3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				return 0, 0, fmt.Errorf("reading %s: %w", aws.ToString(o.Key), err)
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				return 0, 0, fmt.Errorf("reading %s: %w", aws.ToString(o.Key), err)
			}
			objects++
			lines += int64(bytes.Count(body, []byte{'\n'}))
		}
	}
	return objects, lines, nil
}

// localServer is a server process the benchmark started; stop ends it.
type localServer struct {
	endpoint string
	cmd      *exec.Cmd
	exited   chan error
	out      bytes.Buffer // stdout and stderr; read only after exited
	cleanup  func()       // removes the server's files; nil: none
}

// survivePreload keeps kinesalite 3.3.3 up when a client drops a request: it rethrows the
// ECONNRESET "aborted" error Node.js ≥ 15 emits for such a request (see internal/e2e).
const survivePreload = `process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET') return
  console.error(err)
  process.exit(1)
})
`

// startKinesalite starts .cache/kinesalite's kinesalite on a free loopback port.
func startKinesalite(ctx context.Context) (*localServer, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	cli := filepath.Join(root, ".cache", "kinesalite", "node_modules", "kinesalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("kinesalite is not installed in .cache/kinesalite (go test ./internal/testing/kinesistest installs it)")
	}
	dir, err := os.MkdirTemp("", "runnel-kinesalite-")
	if err != nil {
		return nil, err
	}
	preload := filepath.Join(dir, "survive-aborted-requests.js")
	if err := os.WriteFile(preload, []byte(survivePreload), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s, err := startServer(ctx, fmt.Sprintf("http://127.0.0.1:%d", port), append(os.Environ(), "NODE_OPTIONS=--require="+preload),
		"node", cli, "--port", strconv.Itoa(port), "--createStreamMs", "0", "--shardLimit", "100")
	os.RemoveAll(dir) // node has read the preload once it answers
	return s, err
}

// startVersitygw starts .cache/bin/versitygw on a free loopback port, serving a temporary
// directory, and returns the connection to it.
func startVersitygw(ctx context.Context, region string) (*localServer, s3.Connection, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, s3.Connection{}, err
	}
	bin := filepath.Join(root, ".cache", "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		return nil, s3.Connection{}, fmt.Errorf("versitygw is not installed in .cache/bin (scripts/versitygw.sh installs it)")
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, s3.Connection{}, err
	}
	dir, err := os.MkdirTemp("", "runnel-versitygw-")
	if err != nil {
		return nil, s3.Connection{}, err
	}
	conn := s3.Connection{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Region: region,
		AccessKeyID: "runnel-bench", SecretAccessKey: randomName() + randomName()}
	for _, d := range []string{"data", "meta"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, s3.Connection{}, err
		}
	}
	var env []string
	for _, kv := range os.Environ() { // versitygw reads settings from VGW_ and ROOT_ variables
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "VGW_") && !strings.HasPrefix(k, "ROOT_") {
			env = append(env, kv)
		}
	}
	s, err := startServer(ctx, conn.Endpoint, env, bin, "--access", conn.AccessKeyID, "--secret", conn.SecretAccessKey,
		"--region", region, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet",
		"posix", "--sidecar", filepath.Join(dir, "meta"), filepath.Join(dir, "data"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, s3.Connection{}, err
	}
	s.cleanup = func() { os.RemoveAll(dir) }
	return s, conn, nil
}

// startServer runs name args with env and waits until endpoint answers HTTP (any status).
func startServer(ctx context.Context, endpoint string, env []string, name string, args ...string) (*localServer, error) {
	s := &localServer{endpoint: endpoint, exited: make(chan error, 1)}
	s.cmd = exec.Command(name, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("%s exited before it answered: %v\n%s", name, err, s.out.String())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // a process starting up: nothing to wait on but its port
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not answer at %s within 30s\n%s", name, endpoint, s.out.String())
		}
	}
}

// stop kills the server, waits for it and removes its files.
func (s *localServer) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
	if s.cleanup != nil {
		s.cleanup()
	}
}

// repoRoot walks up from the working directory to the go.mod of Runnel's module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/runnel-io/runnel\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the working directory is not inside the Runnel repository, where .cache holds the servers")
		}
		dir = parent
	}
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
