package kinesisclicks_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/examples/kinesisclicks"
	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/internal/testing/kinesistest"
	"github.com/runnel-io/runnel/internal/testing/s3test"
	"github.com/runnel-io/runnel/stream"
)

// TestSchema checks the Parquet schema of the output: window bounds are timestamps.
func TestSchema(t *testing.T) {
	schema, err := parquet.SchemaOf[kinesisclicks.PageCount]()
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"window_start", "window_end"} {
		if want := "required int64 " + col + " (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS));"; !strings.Contains(schema, want) {
			t.Errorf("schema lacks %q:\n%s", want, schema)
		}
	}
}

func TestParse(t *testing.T) {
	c, err := kinesisclicks.Parse(kinesis.Record{Data: []byte(`{"user":7,"page":"/a","referrer":"ads","ts":1000}`)})
	if err != nil || c != (kinesisclicks.Click{User: 7, Page: "/a", Referrer: "ads", Time: 1000}) {
		t.Errorf("Parse: %+v, %v", c, err)
	}
	for _, bad := range []string{`{"user":7}`, `not json`} {
		if _, err := kinesisclicks.Parse(kinesis.Record{Data: []byte(bad), ShardID: "shard-1", SequenceNumber: "42"}); err == nil || !strings.Contains(err.Error(), "shard-1/42") {
			t.Errorf("Parse(%s): %v, want an error naming the record", bad, err)
		}
	}
}

// TestJob puts 3 minutes of clicks on a kinesalite stream, runs the job with checkpoints until
// the first two windows are committed to versitygw, and checks their counts and partitions.
// TestJob runs the example against kinesalite and versitygw, polling and with enhanced fan-out
// (through kinesistest.FanOut, since kinesalite has none).
func TestJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kinesalite and versitygw")
	}
	for _, fanOut := range []bool{false, true} {
		t.Run(map[bool]string{false: "polling", true: "fan-out"}[fanOut], func(t *testing.T) { testJob(t, fanOut) })
	}
}

func testJob(t *testing.T, fanOut bool) {
	kin, srv := kinesistest.Start(t), s3test.Start(t)
	bucket := srv.Bucket(t)
	o := kinesisclicks.Options{
		Kinesis: kinesis.Connection{Endpoint: kin.Endpoint, Region: kin.Region, AccessKeyID: "x", SecretAccessKey: "y"},
		Stream:  kin.CreateStream(t, 2),
		S3:      s3.Connection{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey},
		Output:  "s3://" + bucket + "/counts/",
	}
	if fanOut {
		o.Kinesis.Endpoint, o.Consumer = kinesistest.StartFanOut(t, kin).Endpoint, "page-counts"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	start := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)
	env := stream.New("produce", stream.Config{})
	if err := kinesisclicks.BuildProducer(ctx, env, o, 1800, start); err != nil {
		t.Fatal(err)
	}
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	opts := app.DefaultOptions()
	opts.CheckpointDir, opts.CheckpointInterval, opts.Parallelism, opts.RESTAddress = t.TempDir(), 200*time.Millisecond, 2, ""
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	jobCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- app.Execute(jobCtx, "kinesis-clicks", func(env *stream.Env) error { return kinesisclicks.Build(ctx, env, o) }, opts)
	}()
	defer func() { stop(); <-done }()

	want := map[int64]int64{start.UnixMilli(): 600, start.Add(time.Minute).UnixMilli(): 600}
	for {
		views, keys := committed(ctx, t, srv.Client(), bucket)
		if views[start.UnixMilli()] == 600 && views[start.Add(time.Minute).UnixMilli()] == 600 {
			for _, k := range keys {
				if !strings.HasPrefix(k, "counts/dt=2026-01-01/hour=05/") {
					t.Errorf("object %s is not in the partition of its windows", k)
				}
			}
			return
		}
		select {
		case err := <-done:
			t.Fatalf("job ended: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("views per window %v, want %v\n%s", views, want, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// committed sums the views per window start in the committed objects of bucket.
func committed(ctx context.Context, t *testing.T, cl *awss3.Client, bucket string) (map[int64]int64, []string) {
	t.Helper()
	out, err := cl.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("counts/")})
	if err != nil {
		t.Fatal(err)
	}
	views := map[int64]int64{}
	var keys []string
	for _, obj := range out.Contents {
		keys = append(keys, *obj.Key)
		get, err := cl.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: obj.Key})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(get.Body)
		get.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(*obj.Key, ".parquet") {
			t.Errorf("object %s is not named as Parquet", *obj.Key)
		}
		r, err := parquet.NewReader[kinesisclicks.PageCount](bytes.NewReader(data), int64(len(data)), *obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]kinesisclicks.PageCount, 64)
		for {
			n, err := r.Read(rows)
			for _, pc := range rows[:n] {
				views[pc.WindowStart] += pc.Views
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	return views, keys
}
