// Package kinesisclicks is the Kinesis clickstream example: JSON click events read from a
// Kinesis stream, counted per page in one-minute event-time tumbling windows, and written to S3
// below Hive-style partitions (dt=YYYY-MM-DD/hour=HH) of the window's start as Parquet files
// (self-describing, zstd-compressed columns), exactly once.
package kinesisclicks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/examples/clickstream"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Click is one page view as it travels on the stream, one JSON object per Kinesis record.
type Click struct {
	User     int64  `json:"user"`
	Page     string `json:"page"`
	Referrer string `json:"referrer"`
	Time     int64  `json:"ts"` // event time, epoch ms
}

// PageCount is the number of views of one page in one window. Its JSON fields are in
// lowerCamelCase as every output record's; its Parquet columns in snake_case, as SQL engines
// (Athena, Spark, DuckDB) name columns, with the window bounds as TIMESTAMP(MILLIS).
type PageCount struct {
	Page        string `json:"page" parquet:"page"`
	WindowStart int64  `json:"windowStart" parquet:"window_start,timestamp(millisecond)"` // epoch ms
	WindowEnd   int64  `json:"windowEnd" parquet:"window_end,timestamp(millisecond)"`
	Views       int64  `json:"views" parquet:"views"`
}

// Options configure the job. Zero fields take the defaults their comments state.
type Options struct {
	// Kinesis reaches the stream; the zero value uses the standard AWS configuration chain.
	Kinesis kinesis.Connection
	// Stream is the Kinesis stream of clicks. Required.
	Stream string
	// Consumer, if set, reads the stream with enhanced fan-out through the stream consumer of
	// this name (registered if the stream has none); empty polls with GetRecords.
	Consumer string
	// S3 reaches the output bucket; the zero value uses the standard AWS configuration chain.
	S3 s3.Connection
	// Output is where the counts go, "s3://bucket/prefix". Required.
	Output string
	// Window is the size of the tumbling windows. Default one minute.
	Window time.Duration
	// Disorder is how far out of order click times may be. Default 5 s.
	Disorder time.Duration
	// Idle marks a shard idle after this long without records, so that quiet shards do not
	// hold the watermark back. Default 5 s.
	Idle time.Duration
}

func (o Options) withDefaults() Options {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Disorder <= 0 {
		o.Disorder = 5 * time.Second
	}
	if o.Idle <= 0 {
		o.Idle = 5 * time.Second
	}
	return o
}

// Parse decodes one Kinesis record into a Click. A malformed record fails the job with a
// *format.RecordError naming the shard and sequence number.
func Parse(r kinesis.Record) (Click, error) {
	var c Click
	if err := json.Unmarshal(r.Data, &c); err != nil || c.Page == "" {
		if err == nil {
			err = fmt.Errorf("no page")
		}
		return c, format.NewRecordError("json", format.Position{Source: r.ShardID + "/" + r.SequenceNumber, Offset: -1}, "", r.Data, err)
	}
	return c, nil
}

// Clicks adds the Kinesis source to env and decodes its records, with event time from
// Click.Time.
func Clicks(ctx context.Context, env *stream.Env, o Options) (stream.Stream[Click], error) {
	o = o.withDefaults()
	cl, err := kinesis.NewClient(ctx, o.Kinesis)
	if err != nil {
		return stream.Stream[Click]{}, err
	}
	cfg := kinesis.SourceConfig{Stream: o.Stream, DiscoveryInterval: 5 * time.Second, PollInterval: 100 * time.Millisecond}
	if o.Consumer != "" {
		cfg.FanOut = &kinesis.FanOut{ConsumerName: o.Consumer}
	}
	src, err := kinesis.NewSource(cl, cfg)
	if err != nil {
		return stream.Stream[Click]{}, err
	}
	// Watermarks are per shard, so the event time is read at the source; a record without one
	// gets 0 and fails the job in parse.
	wm := eventtime.BoundedOutOfOrderness(o.Disorder, clickTime).WithIdleness(o.Idle)
	raw := stream.FromSource(env, src, wm).Name("kinesis " + o.Stream).Uid("kinesis-clicks")
	return stream.FlatMap(raw, func(r kinesis.Record, out stream.Collector[Click]) error {
		c, err := Parse(r)
		if err != nil {
			return err
		}
		out.Collect(c)
		return nil
	}).Name("parse").Uid("parse"), nil
}

// clickTime is the event time of a record, the "ts" field of its JSON object.
func clickTime(r kinesis.Record) int64 {
	var c struct {
		Time int64 `json:"ts"`
	}
	_ = json.Unmarshal(r.Data, &c)
	return c.Time
}

// Count counts views per page in tumbling event-time windows of size.
func Count(clicks stream.Stream[Click], size time.Duration) stream.Stream[PageCount] {
	byPage := stream.KeyBy(clicks, func(c Click) string { return c.Page })
	w := stream.Window(byPage, window.TumblingEventTime(size))
	return stream.WindowAggregateProcess(w, state.AggregateFunction[Click, int64, int64]{
		Create: func() int64 { return 0 },
		Add:    func(acc int64, _ Click) int64 { return acc + 1 },
		Result: func(acc int64) int64 { return acc },
		Merge:  func(a, b int64) int64 { return a + b },
	}, stream.ProcessWindowFunc[string, int64, PageCount](func(ctx *stream.WindowContext[string], counts []int64, out stream.Collector[PageCount]) error {
		for _, n := range counts {
			out.Collect(PageCount{Page: ctx.Key(), WindowStart: ctx.Window().Start, WindowEnd: ctx.Window().End, Views: n})
		}
		return nil
	})).Name("count per page").Uid("count-per-page")
}

// Sink returns the exactly-once S3 sink of the counts: Parquet files, partitioned by the UTC
// hour of the window's start.
func Sink(ctx context.Context, o Options) (*file.Sink[PageCount], error) {
	fsys, err := s3.NewFS(ctx, s3.Config{Connection: o.S3})
	if err != nil {
		return nil, err
	}
	return file.NewParquetSink(file.SinkConfig[PageCount]{FS: fsys, Dir: o.Output,
		Bucket: func(v PageCount, _ int64) string { return file.HourlyBucket(v.WindowStart) }},
		parquet.WriterOptions{Compression: parquet.Zstd})
}

// Build adds the whole job to env: Kinesis → parse → count per page and window → S3.
func Build(ctx context.Context, env *stream.Env, o Options) error {
	o = o.withDefaults()
	if o.Stream == "" || o.Output == "" {
		return fmt.Errorf("kinesisclicks: need a stream and an output URL")
	}
	clicks, err := Clicks(ctx, env, o)
	if err != nil {
		return err
	}
	sink, err := Sink(ctx, o)
	if err != nil {
		return err
	}
	Count(clicks, o.Window).SinkTo(sink).Name("s3 " + o.Output).Uid("s3-counts")
	return nil
}

// Generate returns click n of the generated input: the clickstream example's clicks, ten per
// second of event time from start.
func Generate(start time.Time, n int64) Click {
	c := clickstream.Generate(clickstream.Options{Start: start, PerSecond: 10, Pages: 20}, n)
	return Click{User: c.User, Page: c.Page, Referrer: c.Referrer, Time: c.Time}
}

// BuildProducer adds to env a bounded job that puts n generated clicks, starting at event time
// start, on the stream (which must exist: kinesis.CreateStream makes it).
func BuildProducer(ctx context.Context, env *stream.Env, o Options, n int64, start time.Time) error {
	cl, err := kinesis.NewClient(ctx, o.Kinesis)
	if err != nil {
		return err
	}
	sink, err := kinesis.NewSink(cl, kinesis.SinkConfig[Click]{
		Stream:       o.Stream,
		Encode:       func(c Click) ([]byte, error) { return json.Marshal(c) },
		PartitionKey: func(c Click) string { return fmt.Sprint(c.User) },
	})
	if err != nil {
		return err
	}
	src, err := datagen.New(func(i int64) Click { return Generate(start, i) }, datagen.Config{Count: n})
	if err != nil {
		return err
	}
	stream.FromSource(env, src, eventtime.Strategy[Click]{}).Name("generated clicks").Uid("generated-clicks").
		SinkTo(sink).Name("kinesis " + o.Stream).Uid("kinesis-put")
	return nil
}
