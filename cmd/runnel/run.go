package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/runnel-io/runnel/app"
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

// exampleArgs are the flags of `runnel run` that the example jobs read.
type exampleArgs struct {
	events int64   // bound the generators; 0: unbounded
	rate   float64 // generated records per wall-clock second; 0: as fast as possible
	output string  // write results below this directory; empty: print them
	stdout io.Writer

	// The connector examples' flags; their defaults match scripts/dev-servers.sh.
	generate        int64  // put this many generated records into the source first
	show            bool   // kafka-logs: print the output topics instead of running the job
	bounded         bool   // kafka-logs: read the input topic to its end, then stop
	kafkaBrokers    string // comma-separated
	kafkaInput      string
	kafkaOutput     string
	kafkaDeadLetter string
	owners          string // CSV reference table; empty: the built-in one
	kinesisEndpoint string
	kinesisStream   string
	kinesisConsumer string
	s3Endpoint      string
	s3Input         string
	s3Output        string // empty: the example's default
}

// connectorFlags adds the connector examples' flags to fs.
func (a *exampleArgs) connectorFlags(fs *flag.FlagSet) {
	fs.Int64Var(&a.generate, "generate", 0, "kafka-logs, kinesis-clicks, s3-backfill: first write `N` generated records into the source (0: none)")
	fs.BoolVar(&a.show, "show", false, "kafka-logs: print the committed records of the output and dead-letter topics, then exit")
	fs.BoolVar(&a.bounded, "bounded", false, "kafka-logs: read the input topic up to its end at the start, then finish")
	fs.StringVar(&a.kafkaBrokers, "kafka-brokers", "127.0.0.1:9092", "Kafka seed `brokers`, comma-separated")
	fs.StringVar(&a.kafkaInput, "kafka-input", "logs", "kafka-logs: `topic` of raw log lines")
	fs.StringVar(&a.kafkaOutput, "kafka-output", "logs-enriched", "kafka-logs: `topic` of enriched logs")
	fs.StringVar(&a.kafkaDeadLetter, "kafka-dead-letter", "logs-dead-letter", "kafka-logs: `topic` of malformed lines; empty fails the job on one")
	fs.StringVar(&a.owners, "owners", "", "kafka-logs: CSV `file` service,team,owner to enrich with (empty: a built-in table)")
	fs.StringVar(&a.kinesisEndpoint, "kinesis-endpoint", "http://127.0.0.1:4567", "kinesis-clicks: Kinesis endpoint `URL`; empty: AWS's, from the AWS configuration")
	fs.StringVar(&a.kinesisStream, "kinesis-stream", "clicks", "kinesis-clicks: `stream` of JSON clicks")
	fs.StringVar(&a.kinesisConsumer, "kinesis-consumer", "", "kinesis-clicks: read with enhanced fan-out through the stream consumer of this `name`, registered if missing (empty: poll with GetRecords)")
	fs.StringVar(&a.s3Endpoint, "s3-endpoint", "http://127.0.0.1:7070", "kinesis-clicks, s3-backfill: S3 endpoint `URL`; empty: AWS's, from the AWS configuration")
	fs.StringVar(&a.s3Input, "s3-input", "s3://runnel/orders/", "s3-backfill: `URL` of the JSON-lines input")
	fs.StringVar(&a.s3Output, "s3-output", "", "kinesis-clicks, s3-backfill: output `URL` (default s3://runnel/page-counts/, s3://runnel/orders-clean/)")
}

// generateStart is the event time of the first generated record: the start of the current
// hour, so that generated data lands in today's partitions.
func generateStart() time.Time { return time.Now().UTC().Truncate(time.Hour) }

// produce runs build, a bounded job writing generated records, to its end.
func produce(ctx context.Context, name string, build func(env *stream.Env) error) error {
	env := stream.New(name, stream.Config{})
	if err := build(env); err != nil {
		return err
	}
	return env.Execute(ctx)
}

// example is a job `runnel run` knows.
type example struct {
	name, summary string
	build         func(env *stream.Env, a exampleArgs) error
	// servers says the example needs the servers of scripts/dev-servers.sh.
	servers bool
	// prepare, if not nil, runs before the job (to generate input) and says whether to run it.
	prepare func(ctx context.Context, a exampleArgs) (run bool, err error)
}

func examples() []example {
	return []example{
		{name: "clickstream", summary: "website clicks → page views per page in 10 s windows → top 10 pages per window", build: func(env *stream.Env, a exampleArgs) error {
			clicks, err := clickstream.Source(env, clickstream.Options{Events: a.events, Rate: a.rate, Disorder: time.Second})
			if err != nil {
				return err
			}
			const size = 10 * time.Second
			return emit(clickstream.TopPages(clickstream.CountViews(clicks, size), size, 10), a, "top-pages")
		}},
		{name: "iot", summary: "sensor readings → spike and silent-sensor alerts; per-sensor maxima per minute", build: func(env *stream.Env, a exampleArgs) error {
			readings, err := iot.Source(env, iot.Options{Events: a.events, Rate: a.rate})
			if err != nil {
				return err
			}
			if err := emit(iot.Alerts(readings), a, "alerts"); err != nil {
				return err
			}
			return emit(iot.Summary(readings, time.Minute), a, "sensor-max")
		}},
		{name: "arbitrage", summary: "ticks of 3 exchanges → cross-exchange price gaps within 5 ms", build: func(env *stream.Env, a exampleArgs) error {
			ticks, err := arbitrage.Sources(env, arbitrage.Options{Events: a.events, Rate: a.rate})
			if err != nil {
				return err
			}
			return emit(arbitrage.Gaps(ticks, 5*time.Millisecond, 0.05), a, "gaps")
		}},
		{name: "retail", summary: "point-of-sale events → sales per store and product per minute → price signals", build: func(env *stream.Env, a exampleArgs) error {
			sales, err := retail.Source(env, retail.Options{Events: a.events, Rate: a.rate})
			if err != nil {
				return err
			}
			return emit(retail.Trends(retail.SalesPerWindow(sales, time.Minute)), a, "signals")
		}},
		{name: "kinesis-clicks", summary: "Kinesis JSON clicks → views per page per minute → S3, Hive-partitioned Parquet", servers: true,
			build: func(env *stream.Env, a exampleArgs) error {
				return kinesisclicks.Build(context.Background(), env, kinesisOptions(a))
			},
			prepare: func(ctx context.Context, a exampleArgs) (bool, error) {
				if a.generate == 0 {
					return true, nil
				}
				o := kinesisOptions(a)
				cl, err := kinesis.NewClient(ctx, o.Kinesis)
				if err != nil {
					return false, err
				}
				if err := kinesis.CreateStream(ctx, cl, o.Stream, 2); err != nil {
					return false, err
				}
				start := generateStart()
				return true, produce(ctx, "kinesis-clicks-generate", func(env *stream.Env) error {
					return kinesisclicks.BuildProducer(ctx, env, o, a.generate, start)
				})
			}},
		{name: "kafka-logs", summary: "Kafka log lines → parse (bad ones to a dead-letter topic) → enrich with owners → Kafka, exactly once", servers: true,
			build: func(env *stream.Env, a exampleArgs) error {
				o := kafkalogs.Options{Brokers: strings.Split(a.kafkaBrokers, ","), Input: a.kafkaInput, Output: a.kafkaOutput,
					DeadLetter: a.kafkaDeadLetter, Bounded: a.bounded}
				if a.owners != "" {
					owners, err := kafkalogs.LoadOwners(a.owners)
					if err != nil {
						return err
					}
					o.Owners = owners
				}
				return kafkalogs.Build(env, o)
			},
			prepare: func(ctx context.Context, a exampleArgs) (bool, error) {
				brokers := strings.Split(a.kafkaBrokers, ",")
				if a.show {
					for _, topic := range []string{a.kafkaOutput, a.kafkaDeadLetter} {
						if topic == "" {
							continue
						}
						fmt.Fprintf(a.stdout, "== %s\n", topic)
						if err := produce(ctx, "kafka-logs-show", func(env *stream.Env) error {
							return kafkalogs.BuildPrinter(env, brokers, topic, a.stdout)
						}); err != nil {
							return false, err
						}
					}
					return false, nil
				}
				if a.generate == 0 {
					return true, nil
				}
				start := generateStart()
				return true, produce(ctx, "kafka-logs-generate", func(env *stream.Env) error {
					return kafkalogs.BuildProducer(env, brokers, a.kafkaInput, a.generate, 50, start)
				})
			}},
		{name: "s3-backfill", summary: "S3 JSON-lines orders → drop tests, amounts in cents → S3, Hive-partitioned Parquet (bounded)", servers: true,
			build: func(env *stream.Env, a exampleArgs) error {
				return s3backfill.Build(env, s3backfill.Options{S3: s3Conn(a), Input: a.s3Input, Output: cmp.Or(a.s3Output, "s3://runnel/orders-clean/")})
			},
			prepare: func(ctx context.Context, a exampleArgs) (bool, error) {
				if a.generate == 0 {
					return true, nil
				}
				start := generateStart()
				return true, produce(ctx, "s3-backfill-generate", func(env *stream.Env) error {
					return s3backfill.BuildProducer(env, s3Conn(a), a.s3Input, a.generate, start)
				})
			}},
	}
}

func s3Conn(a exampleArgs) s3.Connection { return s3.Connection{Endpoint: a.s3Endpoint} }

func kinesisOptions(a exampleArgs) kinesisclicks.Options {
	return kinesisclicks.Options{
		Kinesis:  kinesis.Connection{Endpoint: a.kinesisEndpoint},
		Stream:   a.kinesisStream,
		Consumer: a.kinesisConsumer,
		S3:       s3Conn(a),
		Output:   cmp.Or(a.s3Output, "s3://runnel/page-counts/"),
	}
}

// emit sends s to the job's output: printed to stdout, or with an output directory the
// exactly-once file sink writing JSON lines below <output>/<name>, committed by checkpoints.
func emit[T any](s stream.Stream[T], a exampleArgs, name string) error {
	if a.output == "" {
		s.PrintTo(a.stdout, name+" ").Name("print " + name).Uid("print-" + name)
		return nil
	}
	enc, err := json.NewEncoder[T]()
	if err != nil {
		return err
	}
	sink, err := file.NewSink(file.SinkConfig[T]{Dir: filepath.Join(a.output, name), Encode: func(dst []byte, v T) []byte {
		b, err := enc.Append(dst, v)
		if err != nil {
			// NewEncoder accepted T, and the examples' types hold no interfaces or marshalers.
			panic(fmt.Sprintf("runnel run: encoding %s: %v", name, err))
		}
		return b // a JSON line, its newline included
	}})
	if err != nil {
		return err
	}
	s.SinkTo(sink).Name("output " + name).Uid("output-" + name)
	return nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, stdout, stderr, nil)
}

// runWith is runRun with a hook called with the REST API's address once it listens (tests).
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := newFlags("run", "run <example> [flags]", stderr)
	o := app.DefaultOptions()
	o.AddFlags(fs)
	a := exampleArgs{stdout: stdout}
	fs.Int64Var(&a.events, "events", 0, "stop each generator after this many records (0: unbounded)")
	fs.Float64Var(&a.rate, "rate", 0, "generated records per wall-clock second (0: as fast as possible)")
	a.connectorFlags(fs)
	fs.StringVar(&a.output, "output", "", "write results as JSON lines below this `directory`, exactly once (committed by checkpoints); empty prints them")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(stderr, "\nExamples:\n")
		for _, e := range examples() {
			fmt.Fprintf(stderr, "  %-15s %s\n", e.name, e.summary)
		}
	}
	// The example may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return parseErr(err)
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	var ex *example
	for _, e := range examples() {
		if e.name == name {
			ex = &e
		}
	}
	if ex == nil {
		if name == "" {
			fmt.Fprintf(stderr, "runnel run: which example?\n")
		} else {
			fmt.Fprintf(stderr, "runnel run: unknown example %q\n", name)
		}
		fs.Usage()
		return errUsage
	}
	if a.events < 0 || a.rate < 0 || a.generate < 0 {
		fmt.Fprintf(stderr, "runnel run: --events, --rate and --generate must not be negative\n")
		return errUsage
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "runnel run: %v\n", err)
		return errUsage
	}
	if a.output != "" && o.CheckpointDir == "" {
		fmt.Fprintf(stderr, "runnel run: note: without --checkpoint-dir, --output is committed only when the input ends\n")
	}
	if ex.prepare != nil {
		run, err := ex.prepare(ctx, a)
		if err != nil || !run {
			return err
		}
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	o.Ready = ready
	return app.Execute(ctx, ex.name, func(env *stream.Env) error { return ex.build(env, a) }, o)
}

func parseErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}
