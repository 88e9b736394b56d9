// Package examples is the registry of the example jobs `runnel run` runs: their names, what
// each does, the flags they read (Args) and how each is built into a stream.Env. The jobs
// themselves are the packages below this one (clickstream, iot, arbitrage, retail, kafkalogs,
// kinesisclicks, s3backfill); a program of your own uses those directly.
//
// The registry is a plain function (All), not registration by init: what runs is what All
// lists. cmd/runnel parses the flags (app.Options and Args) and runs an example's Build through
// app.Execute.
package examples

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/kinesis"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/examples/arbitrage"
	"github.com/runnel-io/runnel/examples/clickstream"
	"github.com/runnel-io/runnel/examples/iot"
	"github.com/runnel-io/runnel/examples/kafkalogs"
	"github.com/runnel-io/runnel/examples/kinesisclicks"
	"github.com/runnel-io/runnel/examples/retail"
	"github.com/runnel-io/runnel/examples/s3backfill"
	"github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/stream"
)

// The defaults of the connector flags: the servers scripts/dev-servers.sh runs on 127.0.0.1.
const (
	DevKafkaBrokers    = "127.0.0.1:9092"
	DevKinesisEndpoint = "http://127.0.0.1:4567"
	DevS3Endpoint      = "http://127.0.0.1:7070"
)

// Args are what the example jobs read from the command line of `runnel run`, besides the
// options of every job (app.Options). DefaultArgs returns the flags' defaults; the zero Args
// has no brokers, streams or endpoints.
type Args struct {
	// Events bounds each generator of the generated examples; 0 is unbounded.
	Events int64
	// Rate is the generated records per wall-clock second; 0 is as fast as possible.
	Rate float64
	// Output, if set, is a directory the results go below as JSON lines, through the
	// exactly-once file sink; empty prints them to Stdout.
	Output string
	// Stdout receives printed results and what Show prints. It must be set; writes from the
	// job's subtasks are serialised.
	Stdout io.Writer

	// Generate is the number of generated records an example with a Generate job writes into
	// its source before the job runs; 0 writes none.
	Generate int64
	// Show makes kafka-logs print its committed output instead of running.
	Show bool
	// Bounded makes kafka-logs read its input topic up to its end at the start, then finish.
	Bounded bool

	KafkaBrokers    string // comma-separated seed brokers
	KafkaInput      string // kafka-logs: topic of raw log lines
	KafkaOutput     string // kafka-logs: topic of enriched logs
	KafkaDeadLetter string // kafka-logs: topic of malformed lines; empty fails the job on one
	Owners          string // kafka-logs: CSV file service,team,owner; empty: the built-in table
	KinesisEndpoint string // empty: AWS's, from the AWS configuration
	KinesisStream   string
	KinesisConsumer string // enhanced fan-out through this stream consumer; empty polls
	// S3Endpoint is the endpoint of the S3-compatible store of kinesis-clicks and s3-backfill;
	// empty is AWS's, from the AWS configuration. cmd/runnel applies it to s3:// checkpoint
	// and savepoint locations too (app.Options.S3Endpoint).
	S3Endpoint string
	S3Input    string // s3-backfill: URL of the JSON-lines input
	S3Output   string // kinesis-clicks, s3-backfill: URL of the output; empty: the example's
}

// DefaultArgs returns the defaults of the flags: unbounded generators at full speed, results
// printed, connectors pointed at the servers of scripts/dev-servers.sh.
func DefaultArgs() Args {
	return Args{
		KafkaBrokers:    DevKafkaBrokers,
		KafkaInput:      "logs",
		KafkaOutput:     "logs-enriched",
		KafkaDeadLetter: "logs-dead-letter",
		KinesisEndpoint: DevKinesisEndpoint,
		KinesisStream:   "clicks",
		S3Endpoint:      DevS3Endpoint,
		S3Input:         "s3://runnel/orders/",
	}
}

// AddFlags defines the examples' flags on fs, bound to a's fields; a's current values are the
// defaults. a must outlive the parsing of fs.
func (a *Args) AddFlags(fs *pflag.FlagSet) {
	fs.Int64Var(&a.Events, "events", a.Events, "stop each generator after this many records (0: unbounded)")
	fs.Float64Var(&a.Rate, "rate", a.Rate, "generated records per wall-clock second (0: as fast as possible)")
	fs.StringVar(&a.Output, "output", a.Output, "write results as JSON lines below this `directory`, exactly once (committed by checkpoints); empty prints them")
	fs.Int64Var(&a.Generate, "generate", a.Generate, "kafka-logs, kinesis-clicks, s3-backfill: first write `N` generated records into the source (0: none)")
	fs.BoolVar(&a.Show, "show", a.Show, "kafka-logs: print the committed records of the output and dead-letter topics, then exit")
	fs.BoolVar(&a.Bounded, "bounded", a.Bounded, "kafka-logs: read the input topic up to its end at the start, then finish")
	fs.StringVar(&a.KafkaBrokers, "kafka-brokers", a.KafkaBrokers, "Kafka seed `brokers`, comma-separated")
	fs.StringVar(&a.KafkaInput, "kafka-input", a.KafkaInput, "kafka-logs: `topic` of raw log lines")
	fs.StringVar(&a.KafkaOutput, "kafka-output", a.KafkaOutput, "kafka-logs: `topic` of enriched logs")
	fs.StringVar(&a.KafkaDeadLetter, "kafka-dead-letter", a.KafkaDeadLetter, "kafka-logs: `topic` of malformed lines; empty fails the job on one")
	fs.StringVar(&a.Owners, "owners", a.Owners, "kafka-logs: CSV `file` service,team,owner to enrich with (empty: a built-in table)")
	fs.StringVar(&a.KinesisEndpoint, "kinesis-endpoint", a.KinesisEndpoint, "kinesis-clicks: Kinesis endpoint `URL`; empty: AWS's, from the AWS configuration")
	fs.StringVar(&a.KinesisStream, "kinesis-stream", a.KinesisStream, "kinesis-clicks: `stream` of JSON clicks")
	fs.StringVar(&a.KinesisConsumer, "kinesis-consumer", a.KinesisConsumer, "kinesis-clicks: read with enhanced fan-out through the stream consumer of this `name`, registered if missing (empty: poll with GetRecords)")
	fs.StringVar(&a.S3Endpoint, "s3-endpoint", a.S3Endpoint, "S3 endpoint `URL` of kinesis-clicks' and s3-backfill's buckets, and of s3:// --checkpoint-dir, savepoint and restore locations that name none (?endpoint=); empty: AWS's, from the AWS configuration")
	fs.StringVar(&a.S3Input, "s3-input", a.S3Input, "s3-backfill: `URL` of the JSON-lines input")
	fs.StringVar(&a.S3Output, "s3-output", a.S3Output, "kinesis-clicks, s3-backfill: output `URL` (default s3://runnel/page-counts/, s3://runnel/orders-clean/)")
}

// Validate reports flags that cannot work, naming them; it returns nil or an error joining
// every problem found.
func (a Args) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    float64
	}{{"events", float64(a.Events)}, {"rate", a.Rate}, {"generate", float64(a.Generate)}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("--%s %v must not be negative", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Example is a job `runnel run` knows.
type Example struct {
	// Name is what `runnel run` takes; Summary says what the job does, on one line.
	Name, Summary string
	// Servers says the example needs the servers of scripts/dev-servers.sh (or real ones).
	Servers bool
	// Build adds the job to env.
	Build func(ctx context.Context, env *stream.Env, a Args) error
	// Generate, if not nil, adds to env a bounded job writing a.Generate generated records
	// into the example's source (creating a missing Kinesis stream first); `runnel run` runs
	// it before the job when --generate is set.
	Generate func(ctx context.Context, env *stream.Env, a Args) error
	// Show, if not nil, prints the example's committed output to a.Stdout; `runnel run` calls
	// it instead of running the job when --show is set.
	Show func(ctx context.Context, a Args) error
}

// All returns the examples, in the order help lists them.
func All() []Example {
	return []Example{
		{Name: "clickstream", Summary: "website clicks → page views per page in 10 s windows → top 10 pages per window",
			Build: func(_ context.Context, env *stream.Env, a Args) error {
				clicks, err := clickstream.Source(env, clickstream.Options{Events: a.Events, Rate: a.Rate, Disorder: time.Second})
				if err != nil {
					return err
				}
				const size = 10 * time.Second
				return emit(clickstream.TopPages(clickstream.CountViews(clicks, size), size, 10), a, "top-pages")
			}},
		{Name: "iot", Summary: "sensor readings → spike and silent-sensor alerts; per-sensor maxima per minute",
			Build: func(_ context.Context, env *stream.Env, a Args) error {
				readings, err := iot.Source(env, iot.Options{Events: a.Events, Rate: a.Rate})
				if err != nil {
					return err
				}
				if err := emit(iot.Alerts(readings), a, "alerts"); err != nil {
					return err
				}
				return emit(iot.Summary(readings, time.Minute), a, "sensor-max")
			}},
		{Name: "arbitrage", Summary: "ticks of 3 exchanges → cross-exchange price gaps within 5 ms",
			Build: func(_ context.Context, env *stream.Env, a Args) error {
				ticks, err := arbitrage.Sources(env, arbitrage.Options{Events: a.Events, Rate: a.Rate})
				if err != nil {
					return err
				}
				return emit(arbitrage.Gaps(ticks, 5*time.Millisecond, 0.05), a, "gaps")
			}},
		{Name: "retail", Summary: "point-of-sale events → sales per store and product per minute → price signals",
			Build: func(_ context.Context, env *stream.Env, a Args) error {
				sales, err := retail.Source(env, retail.Options{Events: a.Events, Rate: a.Rate})
				if err != nil {
					return err
				}
				return emit(retail.Trends(retail.SalesPerWindow(sales, time.Minute)), a, "signals")
			}},
		{Name: "kinesis-clicks", Summary: "Kinesis JSON clicks → views per page per minute → S3, Hive-partitioned Parquet", Servers: true,
			Build: func(ctx context.Context, env *stream.Env, a Args) error {
				return kinesisclicks.Build(ctx, env, kinesisOptions(a))
			},
			Generate: func(ctx context.Context, env *stream.Env, a Args) error {
				o := kinesisOptions(a)
				cl, err := kinesis.NewClient(ctx, o.Kinesis)
				if err != nil {
					return err
				}
				if err := kinesis.CreateStream(ctx, cl, o.Stream, 2); err != nil {
					return err
				}
				return kinesisclicks.BuildProducer(ctx, env, o, a.Generate, generateStart())
			}},
		{Name: "kafka-logs", Summary: "Kafka log lines → parse (bad ones to a dead-letter topic) → enrich with owners → Kafka, exactly once", Servers: true,
			Build: func(_ context.Context, env *stream.Env, a Args) error {
				o := kafkalogs.Options{Brokers: brokers(a), Input: a.KafkaInput, Output: a.KafkaOutput,
					DeadLetter: a.KafkaDeadLetter, Bounded: a.Bounded}
				if a.Owners != "" {
					owners, err := kafkalogs.LoadOwners(a.Owners)
					if err != nil {
						return err
					}
					o.Owners = owners
				}
				return kafkalogs.Build(env, o)
			},
			Generate: func(_ context.Context, env *stream.Env, a Args) error {
				return kafkalogs.BuildProducer(env, brokers(a), a.KafkaInput, a.Generate, 50, generateStart())
			},
			Show: func(ctx context.Context, a Args) error {
				for _, topic := range []string{a.KafkaOutput, a.KafkaDeadLetter} {
					if topic == "" {
						continue
					}
					fmt.Fprintf(a.Stdout, "== %s\n", topic)
					env := stream.New("kafka-logs-show", stream.Config{})
					if err := kafkalogs.BuildPrinter(env, brokers(a), topic, a.Stdout); err != nil {
						return err
					}
					if err := env.Execute(ctx); err != nil {
						return err
					}
				}
				return nil
			}},
		{Name: "s3-backfill", Summary: "S3 JSON-lines orders → drop tests, amounts in cents → S3, Hive-partitioned Parquet (bounded)", Servers: true,
			Build: func(_ context.Context, env *stream.Env, a Args) error {
				return s3backfill.Build(env, s3backfill.Options{S3: s3Conn(a), Input: a.S3Input, Output: cmp.Or(a.S3Output, "s3://runnel/orders-clean/")})
			},
			Generate: func(_ context.Context, env *stream.Env, a Args) error {
				return s3backfill.BuildProducer(env, s3Conn(a), a.S3Input, a.Generate, generateStart())
			}},
	}
}

// Lookup returns the example called name.
func Lookup(name string) (Example, bool) {
	for _, e := range All() {
		if e.Name == name {
			return e, true
		}
	}
	return Example{}, false
}

// Names returns the examples' names, in the order of All.
func Names() []string {
	var names []string
	for _, e := range All() {
		names = append(names, e.Name)
	}
	return names
}

// generateStart is the event time of the first generated record: the start of the current
// hour, so that generated data lands in today's partitions.
func generateStart() time.Time { return time.Now().UTC().Truncate(time.Hour) }

func brokers(a Args) []string { return strings.Split(a.KafkaBrokers, ",") }

func s3Conn(a Args) s3.Connection { return s3.Connection{Endpoint: a.S3Endpoint} }

func kinesisOptions(a Args) kinesisclicks.Options {
	return kinesisclicks.Options{
		Kinesis:  kinesis.Connection{Endpoint: a.KinesisEndpoint},
		Stream:   a.KinesisStream,
		Consumer: a.KinesisConsumer,
		S3:       s3Conn(a),
		Output:   cmp.Or(a.S3Output, "s3://runnel/page-counts/"),
	}
}

// emit sends s to the job's output: printed to a.Stdout as JSON lines after the output's name,
// or, with a.Output, through the exactly-once file sink as JSON lines below <Output>/<name>,
// committed by checkpoints.
func emit[T any](s stream.Stream[T], a Args, name string) error {
	if a.Output == "" {
		s.PrintTo(a.Stdout, name+" ").Name("print " + name).Uid("print-" + name)
		return nil
	}
	enc, err := json.NewEncoder[T]()
	if err != nil {
		return err
	}
	sink, err := file.NewSink(file.SinkConfig[T]{Dir: filepath.Join(a.Output, name), Encode: func(dst []byte, v T) []byte {
		b, err := enc.Append(dst, v)
		if err != nil {
			// NewEncoder accepted T, and the examples' records hold no interfaces, their
			// marshalers (enum names) cannot fail, and their floats are finite.
			panic(fmt.Sprintf("examples: encoding %s: %v", name, err))
		}
		return b // a JSON line, its newline included
	}})
	if err != nil {
		return err
	}
	s.SinkTo(sink).Name("output " + name).Uid("output-" + name)
	return nil
}
