package s3backfill_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/examples/s3backfill"
	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/internal/testing/s3test"
	"github.com/runnel-io/runnel/stream"
)

func TestTransform(t *testing.T) {
	r, ok := s3backfill.Transform(s3backfill.Order{ID: 1, Customer: "c", Amount: 12.345, Currency: "EUR", Time: 0})
	if !ok || r != (s3backfill.Row{ID: 1, Customer: "c", Cents: 1235, Currency: "EUR", Time: 0}) {
		t.Errorf("Transform: %+v, %v", r, ok)
	}
	if _, ok := s3backfill.Transform(s3backfill.Order{Test: true}); ok {
		t.Error("Transform keeps a test order")
	}
}

// TestSchema checks the Parquet schema of the output: the order time is a timestamp, as the
// window bounds of kinesisclicks are, not a string.
func TestSchema(t *testing.T) {
	schema, err := parquet.SchemaOf[s3backfill.Row]()
	if err != nil {
		t.Fatal(err)
	}
	if want := "required int64 time (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS));"; !strings.Contains(schema, want) {
		t.Errorf("schema lacks %q:\n%s", want, schema)
	}
}

// TestJob writes 3,000 generated orders (50 minutes from 05:30) to versitygw, runs the
// backfill, and reads the output back: every non-test order once, in the partition of its hour.
func TestJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	conn := s3.Connection{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	start := time.Date(2026, 1, 1, 5, 30, 0, 0, time.UTC)
	const n = 3000
	execute(ctx, t, func(env *stream.Env) error {
		return s3backfill.BuildProducer(env, conn, "s3://"+bucket+"/in/", n, start)
	})
	execute(ctx, t, func(env *stream.Env) error {
		return s3backfill.Build(env, s3backfill.Options{S3: conn, Input: "s3://" + bucket + "/in/", Output: "s3://" + bucket + "/out/"})
	})

	// Read back with the Parquet file source on S3, one partition at a time.
	fsys, err := s3.NewFS(ctx, s3.Config{Connection: conn})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, hour := range []string{"dt=2026-01-01/hour=05", "dt=2026-01-01/hour=06"} {
		src, err := file.NewSource(file.SourceConfig[s3backfill.Row]{FS: fsys, Path: "s3://" + bucket + "/out/" + hour + "/",
			Format: file.Parquet[s3backfill.Row]()})
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("read", stream.Config{})
		rows := stream.Collect(stream.FromSource(env, src, eventtime.Strategy[s3backfill.Row]{}))
		if err := env.Execute(ctx); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows.Values() {
			want, _ := s3backfill.Transform(s3backfill.Generate(start, r.ID))
			if r != want {
				t.Errorf("row %+v, want %+v", r, want)
			}
			if ts := time.UnixMilli(r.Time).UTC(); !strings.HasSuffix(hour, ts.Format("15")) {
				t.Errorf("row %+v in partition %s", r, hour)
			}
			got = append(got, r.ID)
		}
	}
	slices.Sort(got)
	var want []int64
	for i := range int64(n) {
		if _, ok := s3backfill.Transform(s3backfill.Generate(start, i)); ok {
			want = append(want, i)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("read %d rows, want %d", len(got), len(want))
	}
}

func execute(ctx context.Context, t *testing.T, build func(env *stream.Env) error) {
	t.Helper()
	env := stream.New("s3-backfill", stream.Config{Parallelism: 2})
	if err := build(env); err != nil {
		t.Fatal(err)
	}
	if err := env.Execute(ctx); err != nil {
		t.Fatal(err)
	}
}
