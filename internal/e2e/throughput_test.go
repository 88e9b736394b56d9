package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	jsonformat "github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/internal/testing/s3test"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// TestKinesisToS3Throughput measures a Kinesis → map → S3 job in events per second against
// kinesalite and versitygw. It puts the events into a new stream first (not part of the job's
// figure), then reads every shard to its end with plain GetRecords calls, one goroutine per
// shard and no job, before the job and again after it (kinesalite's JavaScript gets faster as
// V8 compiles it): the better rate is what kinesalite serves at all, the job's ceiling. The job
// reads the stream from TRIM_HORIZON, parses each JSON event, derives a page view and writes it
// as a JSON line through the exactly-once S3 sink, with checkpoints. Its figure is the records
// over the time from its start until the last record passed the map; the committed figure runs
// until the checkpoint after that completed. The bucket is counted afterwards: every record
// must be there once.
//
// In the normal suite it runs on a few thousand events as a test of the measurement. For the
// figure (the events are ~80 bytes):
//
//	RUNNEL_BENCH_KINESIS=200000 go test -run TestKinesisToS3Throughput -v ./internal/e2e
//
// with RUNNEL_BENCH_SHARDS (default 4), RUNNEL_BENCH_PARALLELISM (2) and
// RUNNEL_BENCH_INTERVAL (checkpoint interval, 1s) to vary it.
//
// kinesalite is single-threaded JavaScript with an in-memory store, far slower than a real
// Kinesis and usually the bottleneck: compare the job with the ceiling, not with AWS.
//
// This is a test rather than a `runnel bench` verb because the job needs AWS SDK clients, and
// internal/lint gives the SDK homes only in the connectors, internal/checkpoint and the test
// servers; cmd/runnel may not construct them.
func TestKinesisToS3Throughput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers")
	}
	b := &throughputBench{records: 3000, shards: 2, parallelism: 2, interval: 100 * time.Millisecond}
	measuring := os.Getenv("RUNNEL_BENCH_KINESIS") != ""
	if measuring {
		b.shards, b.interval = 4, time.Second
		for _, v := range []struct {
			env string
			set func(string) error
		}{
			{"RUNNEL_BENCH_KINESIS", func(s string) (err error) { b.records, err = strconv.ParseInt(s, 10, 64); return }},
			{"RUNNEL_BENCH_SHARDS", func(s string) (err error) { b.shards, err = strconv.Atoi(s); return }},
			{"RUNNEL_BENCH_PARALLELISM", func(s string) (err error) { b.parallelism, err = strconv.Atoi(s); return }},
			{"RUNNEL_BENCH_INTERVAL", func(s string) (err error) { b.interval, err = time.ParseDuration(s); return }},
		} {
			if s := os.Getenv(v.env); s != "" {
				if err := v.set(s); err != nil {
					t.Fatalf("%s=%q: %v", v.env, s, err)
				}
			}
		}
		if b.records <= 0 || b.shards <= 0 || b.parallelism <= 0 || b.interval <= 0 {
			t.Fatalf("records %d, shards %d, parallelism %d, interval %v: all must be positive", b.records, b.shards, b.parallelism, b.interval)
		}
	}
	srv := s3test.Start(t)
	kin := kinesistest.Start(t)
	b.kin, b.s3, b.ckDir = kin.Client(), srv.Client(), t.TempDir()
	b.s3conn = s3.Connection{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	name := kin.CreateStream(t, b.shards)
	bucket := srv.Bucket(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	r, err := b.run(ctx, name, bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r)
	raw, _ := json.Marshal(r)
	t.Logf("%s", raw)
	if r.Lines != b.records || r.Objects == 0 || r.Checkpoints < 2 {
		t.Errorf("%d lines in %d objects after %d checkpoints; want %d lines", r.Lines, r.Objects, r.Checkpoints, b.records)
	}
	if r.PutPerSec <= 0 || r.RawReadPerSec <= 0 || r.JobPerSec <= 0 || r.CommittedPerSec <= 0 || r.CommittedPerSec > r.JobPerSec {
		t.Errorf("rates: put %.0f, raw read %.0f, job %.0f, committed %.0f events/s", r.PutPerSec, r.RawReadPerSec, r.JobPerSec, r.CommittedPerSec)
	}
}

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

// throughputResult is what TestKinesisToS3Throughput measures.
type throughputResult struct {
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
	// CommittedPerSec is records / (the bucket holding every record − job start).
	CommittedPerSec float64 `json:"committed_events_per_second"`
	Checkpoints     int64   `json:"checkpoints"`
	// Objects and Lines are what the bucket holds after the job.
	Objects int   `json:"objects"`
	Lines   int64 `json:"lines"`
}

func (r *throughputResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Kinesis → map → S3 (JSON lines, exactly-once), %d events, %d shards, parallelism %d, checkpoints every %gs\n",
		r.Records, r.Shards, r.Parallelism, r.IntervalSec)
	fmt.Fprintf(&b, "  put (PutRecords, before the job):       %10.0f events/s\n", r.PutPerSec)
	fmt.Fprintf(&b, "  kinesalite GetRecords alone (ceiling):  %10.0f events/s\n", r.RawReadPerSec)
	fmt.Fprintf(&b, "  job, through the map:                   %10.0f events/s (%.0f%% of the ceiling)\n", r.JobPerSec, 100*r.JobPerSec/r.RawReadPerSec)
	fmt.Fprintf(&b, "  job, committed to S3:                   %10.0f events/s\n", r.CommittedPerSec)
	fmt.Fprintf(&b, "  %d checkpoints; the bucket holds %d objects, %d lines", r.Checkpoints, r.Objects, r.Lines)
	return b.String()
}

// throughputBench holds the clients and sizes of one measurement.
type throughputBench struct {
	kin         *awskinesis.Client
	s3          *awss3.Client
	s3conn      s3.Connection
	records     int64
	shards      int
	parallelism int
	interval    time.Duration
	ckDir       string // where the job's checkpoints go
}

func (b *throughputBench) run(ctx context.Context, name, bucket string) (*throughputResult, error) {
	r := &throughputResult{Records: b.records, Shards: b.shards, Parallelism: b.parallelism, IntervalSec: b.interval.Seconds()}
	start := time.Now()
	if err := b.put(ctx, name); err != nil {
		return nil, err
	}
	r.PutPerSec = float64(b.records) / time.Since(start).Seconds()
	var err error
	if r.RawReadPerSec, err = b.rawRate(ctx, name); err != nil {
		return nil, err
	}
	if err := b.job(ctx, r, name, bucket); err != nil {
		return nil, err
	}
	again, err := b.rawRate(ctx, name)
	if err != nil {
		return nil, err
	}
	r.RawReadPerSec = max(r.RawReadPerSec, again)
	if r.Objects, r.Lines, err = b.countOutput(ctx, bucket); err != nil {
		return nil, err
	}
	return r, nil
}

// put puts the events through the connector's sink, from one writer per shard at once.
func (b *throughputBench) put(ctx context.Context, name string) error {
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
func (b *throughputBench) rawRate(ctx context.Context, name string) (float64, error) {
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
func (b *throughputBench) readRaw(ctx context.Context, name string) (int64, error) {
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
			for iter := it.ShardIterator; iter != nil; {
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

// errMeasured ends the job once the measurement is done.
var errMeasured = errors.New("measured")

// job runs the measured job until the checkpoint after the last record completed.
func (b *throughputBench) job(ctx context.Context, r *throughputResult, name, bucket string) error {
	st, err := checkpoint.NewLocal(b.ckDir)
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
	fsys, err := s3.NewFS(ctx, s3.Config{Connection: b.s3conn})
	if err != nil {
		return err
	}
	sink, err := file.NewSink(file.SinkConfig[benchView]{FS: fsys, Dir: fmt.Sprintf("s3://%s/views", bucket), Encode: func(dst []byte, v benchView) []byte {
		dst, _ = enc.Append(dst, v) // benchView has nothing that fails to encode; a JSON line
		return dst
	}})
	if err != nil {
		return err
	}

	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		seen        atomic.Int64
		completed   atomic.Int64 // checkpoints completed, from the metrics
		through     atomic.Int64 // when the last record passed the map, in ns since start
		allThrough  = make(chan struct{})
		committed   time.Duration // when the bucket held every record
		checkpoints int64
		watchErr    error
	)
	start := time.Now()
	// Once every record passed the map, watch the bucket until it holds them all: the
	// checkpoint after the last record must complete and its uploads be committed, which the
	// sink does after the checkpoint is reported complete.
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-allThrough:
		case <-jobCtx.Done():
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			_, lines, err := b.countOutput(jobCtx, bucket)
			if err != nil {
				if jobCtx.Err() == nil { // else the job ended first, and says why
					watchErr = err
					cancel(err)
				}
				return
			}
			if lines >= b.records {
				committed, checkpoints = time.Since(start), completed.Load()
				cancel(errMeasured)
				return
			}
			select {
			case <-tick.C:
			case <-jobCtx.Done():
				return
			}
		}
	}()
	cfg := stream.Config{
		Parallelism:     b.parallelism,
		MetricsInterval: 10 * time.Millisecond,
		Metrics: metrics.ListenerFunc(func(s metrics.Snapshot) {
			if c := s.Checkpoints; c != nil {
				completed.Store(c.Completed)
			}
		}),
		Checkpoints: stream.Checkpoints{Storage: st, Interval: b.interval},
	}
	env := stream.New("kinesis throughput", cfg)
	recs := stream.FromSource(env, src, eventtime.Strategy[kinesis.Record]{}).Name("kinesis").Uid("kinesis")
	views := stream.Map(recs, func(rec kinesis.Record) benchView {
		var e benchEvent
		if err := dec.Unmarshal(rec.Data, &e); err != nil {
			panic(fmt.Sprintf("shard %s, record %s: %v", rec.ShardID, rec.SequenceNumber, err))
		}
		section, _, _ := strings.Cut(strings.TrimPrefix(e.Page, "/"), "/")
		if seen.Add(1) == b.records {
			through.Store(int64(time.Since(start)))
			close(allThrough)
		}
		return benchView{ID: e.ID, User: e.User, Page: e.Page, Section: section, Minute: e.TS / 60_000}
	}).Name("page views").Uid("views")
	views.SinkTo(sink).Name("s3").Uid("s3")
	err = env.Execute(jobCtx)
	cancel(nil)
	<-watched
	if watchErr != nil {
		return fmt.Errorf("watching the output: %w", watchErr)
	}
	switch cause := context.Cause(jobCtx); {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(cause, errMeasured):
	case err != nil:
		return err
	default:
		return errors.New("the job ended before it read every record")
	}
	r.JobPerSec = float64(b.records) / time.Duration(through.Load()).Seconds()
	r.CommittedPerSec = float64(b.records) / committed.Seconds()
	r.Checkpoints = checkpoints
	return nil
}

// countOutput returns the objects and lines below the job's prefix of bucket.
func (b *throughputBench) countOutput(ctx context.Context, bucket string) (objects int, lines int64, err error) {
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
