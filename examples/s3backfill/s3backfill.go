// Package s3backfill is the S3 backfill example: a bounded job, through the same API as the
// streaming ones, that reads JSON-lines order events below one S3 prefix, drops test orders,
// converts amounts to cents and writes the result below another prefix in Hive-style hourly
// partitions (dt=YYYY-MM-DD/hour=HH) of each order's time as Parquet files, exactly once.
package s3backfill

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/stream"
)

// Order is one input event.
type Order struct {
	ID       int64   `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"` // in currency units
	Currency string  `json:"currency"`
	Test     bool    `json:"test"`
	Time     int64   `json:"ts"` // epoch ms
}

// Row is one output row. Time is the order's event time, a Parquet TIMESTAMP(MILLIS) that
// readers show as a timestamp, as kinesisclicks' window bounds.
type Row struct {
	ID       int64  `json:"id" parquet:"id"`
	Customer string `json:"customer" parquet:"customer,dict"`
	Cents    int64  `json:"cents" parquet:"cents"`
	Currency string `json:"currency" parquet:"currency,dict"`
	Time     int64  `json:"time" parquet:"time,timestamp(millisecond)"` // epoch ms
}

// Options configure the job.
type Options struct {
	// S3 reaches the bucket(s); the zero value uses the standard AWS configuration chain.
	S3 s3.Connection
	// Input is where the orders are, "s3://bucket/prefix". Required.
	Input string
	// Output is where the rows go, "s3://bucket/prefix". Required; it must not be below Input.
	Output string
}

// Transform is the job's logic: test orders are dropped, amounts rounded to cents.
func Transform(o Order) (Row, bool) {
	if o.Test {
		return Row{}, false
	}
	return Row{
		ID:       o.ID,
		Customer: o.Customer,
		Cents:    int64(math.Round(o.Amount * 100)),
		Currency: o.Currency,
		Time:     o.Time,
	}, true
}

// Build adds the bounded job to env: S3 JSON lines → Transform → S3 Parquet, partitioned by
// order time.
// A malformed line fails the job with a *format.RecordError naming object, line and offset.
// Input and Output may be on the local file system too (file.SinkConfig.Dir, local paths)
// with another FS; the example keeps to S3.
func Build(env *stream.Env, o Options) error {
	if o.Input == "" || o.Output == "" {
		return fmt.Errorf("s3backfill: need an input and an output URL")
	}
	fsys, err := newFS(o.S3)
	if err != nil {
		return err
	}
	src, err := file.NewSource(file.SourceConfig[Order]{FS: fsys, Path: o.Input, Format: file.JSONLines[Order]()})
	if err != nil {
		return err
	}
	orders := stream.FromSource(env, src, eventtime.Monotonous(func(o Order) int64 { return o.Time })).Name("s3 " + o.Input).Uid("s3-orders")
	rows := stream.FlatMap(orders, func(o Order, out stream.Collector[Row]) error {
		if r, ok := Transform(o); ok {
			out.Collect(r)
		}
		return nil
	}).Name("transform").Uid("transform")
	sink, err := file.NewParquetSink(file.SinkConfig[Row]{FS: fsys, Dir: o.Output, Bucket: file.Hourly[Row]}, parquet.WriterOptions{})
	if err != nil {
		return err
	}
	rows.SinkTo(sink).Name("s3 " + o.Output).Uid("s3-rows")
	return nil
}

// newFS returns the S3 file system of conn. It reads the AWS configuration files, no more: the
// jobs contact S3 when they run.
func newFS(conn s3.Connection) (*s3.FS, error) {
	return s3.NewFS(context.Background(), s3.Config{Connection: conn})
}

func jsonSink[T any](fsys *s3.FS, url string) (*file.Sink[T], error) {
	enc, err := json.NewEncoder[T]()
	if err != nil {
		return nil, err
	}
	return file.NewSink(file.SinkConfig[T]{FS: fsys, Dir: url, Encode: func(dst []byte, v T) []byte {
		b, err := enc.Append(dst, v) // a JSON line, its newline included
		if err != nil {
			panic(fmt.Sprintf("s3backfill: encoding %+v: %v", v, err)) // the example's types always encode
		}
		return b
	}})
}

// Generate returns order n of the generated input: one a second from start, one in ten a test
// order.
func Generate(start time.Time, n int64) Order {
	return Order{
		ID:       n,
		Customer: fmt.Sprintf("c%03d", n*7919%500),
		Amount:   float64(n%5000) / 100,
		Currency: []string{"EUR", "USD", "GBP"}[n%3],
		Test:     n%10 == 9,
		Time:     start.Add(time.Duration(n) * time.Second).UnixMilli(),
	}
}

// BuildProducer adds to env a bounded job writing n generated orders as JSON lines below url.
func BuildProducer(env *stream.Env, conn s3.Connection, url string, n int64, start time.Time) error {
	src, err := datagen.New(func(i int64) Order { return Generate(start, i) }, datagen.Config{Count: n})
	if err != nil {
		return err
	}
	fsys, err := newFS(conn)
	if err != nil {
		return err
	}
	sink, err := jsonSink[Order](fsys, url)
	if err != nil {
		return err
	}
	stream.FromSource(env, src, eventtime.Strategy[Order]{}).Name("generated orders").Uid("generated-orders").
		SinkTo(sink).Name("s3 " + url).Uid("s3-produce")
	return nil
}
