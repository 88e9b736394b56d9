// Package kafkalogs is the Kafka log-enrichment example: raw log lines read from a Kafka topic
// are parsed, enriched with the owning team of their service from a reference table loaded at
// start, and written to another topic exactly once (a transactional sink committed by
// checkpoints). Lines that do not parse go to a dead-letter topic, exactly once as well, counted
// in the parse operator's metrics.DeadLettered counter, or, without one, fail the job with a
// *format.RecordError naming topic, partition and offset.
//
// A log line is "<RFC 3339 time> <LEVEL> <service> <message>", for example
//
//	2026-01-01T00:00:00.250Z ERROR checkout payment declined for order 17
package kafkalogs

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// Log is a parsed log line.
type Log struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Service string    `json:"service"`
	Message string    `json:"message"`
}

// Owner is a row of the reference table: who runs a service.
type Owner struct {
	Team, Owner string
}

// Enriched is a log line with its service's owner; Team and Owner are "unknown" for a service
// the table lacks.
type Enriched struct {
	Log
	Team  string `json:"team"`
	Owner string `json:"owner"`
}

// DefaultOwners is the reference table used when no file is given.
var DefaultOwners = map[string]Owner{
	"checkout": {"payments", "ana@example.com"},
	"search":   {"discovery", "li@example.com"},
	"cart":     {"payments", "sam@example.com"},
	"auth":     {"identity", "kim@example.com"},
}

// LoadOwners reads a CSV reference table with the header "service,team,owner".
func LoadOwners(path string) (map[string]Owner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kafkalogs: reading owners: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 3
	owners := map[string]Owner{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return owners, nil
		}
		if err != nil {
			return nil, fmt.Errorf("kafkalogs: reading owners %s: %w", path, err)
		}
		if line == 1 && rec[0] == "service" {
			continue
		}
		owners[rec[0]] = Owner{Team: rec[1], Owner: rec[2]}
	}
}

// Parse parses one log line. Its errors say what is wrong with the line.
func Parse(line []byte) (Log, error) {
	f := strings.SplitN(string(bytes.TrimSpace(line)), " ", 4)
	if len(f) < 4 {
		return Log{}, fmt.Errorf("want \"<time> <level> <service> <message>\", got %d fields", len(f))
	}
	t, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return Log{}, fmt.Errorf("time: %w", err)
	}
	switch f[1] {
	case "DEBUG", "INFO", "WARN", "ERROR":
	default:
		return Log{}, fmt.Errorf("unknown level %q", f[1])
	}
	return Log{Time: t.UTC(), Level: f[1], Service: f[2], Message: f[3]}, nil
}

// Options configure the job. Zero fields take the defaults their comments state.
type Options struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Input is the topic of raw log lines. Required.
	Input string
	// Output is the topic of enriched logs, JSON objects keyed by service. Required.
	Output string
	// DeadLetter is the topic malformed lines go to, with the reason in the header "error".
	// Empty: a malformed line fails the job.
	DeadLetter string
	// Owners is the reference table; nil means DefaultOwners.
	Owners map[string]Owner
	// Bounded reads the input topic up to its end at the start, then ends. Default unbounded.
	Bounded bool
	// TransactionalIDPrefix names the sinks' transactions. Default "runnel-kafka-logs".
	TransactionalIDPrefix string
}

// parsed is a line after Parse: a Log, or, when Bad, the raw line and why it was rejected.
type parsed struct {
	Log    Log
	Bad    bool
	Raw    []byte
	Reason string
}

// Build adds the job to env: Kafka → parse → (malformed → dead-letter topic) → enrich → Kafka,
// both sinks transactional.
func Build(env *stream.Env, o Options) error {
	if len(o.Brokers) == 0 || o.Input == "" || o.Output == "" {
		return errors.New("kafkalogs: need brokers, an input and an output topic")
	}
	if o.Owners == nil {
		o.Owners = DefaultOwners
	}
	if o.TransactionalIDPrefix == "" {
		o.TransactionalIDPrefix = "runnel-kafka-logs"
	}
	cluster := kafka.Cluster{Brokers: o.Brokers, ConnectTimeout: 10 * time.Second}
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: cluster, Topics: []string{o.Input}, Bounded: o.Bounded})
	if err != nil {
		return err
	}
	wm := eventtime.BoundedOutOfOrderness(time.Second, func(r kafka.Record) int64 { return r.Timestamp.UnixMilli() })
	raw := stream.FromSource(env, src, wm).Name("kafka " + o.Input).Uid("kafka-logs")
	failFast := o.DeadLetter == ""
	lines := stream.Process(raw, &parser{failFast: failFast}).Name("parse").Uid("parse")

	out, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: cluster, Topic: o.Output, Guarantee: kafka.ExactlyOnce,
		TransactionalIDPrefix: o.TransactionalIDPrefix + "-out"}, func(e Enriched) (kafka.Record, error) {
		v, err := json.Marshal(e)
		return kafka.Record{Key: []byte(e.Service), Value: v}, err
	})
	if err != nil {
		return err
	}
	owners := o.Owners
	good := stream.FlatMap(lines, func(p parsed, out stream.Collector[Enriched]) error {
		if !p.Bad {
			out.Collect(Enrich(p.Log, owners))
		}
		return nil
	}).Name("enrich").Uid("enrich")
	good.SinkTo(out).Name("kafka " + o.Output).Uid("kafka-enriched")

	if failFast {
		return nil
	}
	dlq, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: cluster, Topic: o.DeadLetter, Guarantee: kafka.ExactlyOnce,
		TransactionalIDPrefix: o.TransactionalIDPrefix + "-dlq"}, func(p parsed) (kafka.Record, error) {
		return kafka.Record{Value: p.Raw, Headers: []kafka.Header{{Key: "error", Value: []byte(p.Reason)}}}, nil
	})
	if err != nil {
		return err
	}
	bad := stream.FlatMap(lines, func(p parsed, out stream.Collector[parsed]) error {
		if p.Bad {
			out.Collect(p)
		}
		return nil
	}).Name("malformed").Uid("malformed")
	bad.SinkTo(dlq).Name("kafka " + o.DeadLetter).Uid("kafka-dead-letter")
	return nil
}

// parser is the parse step: each record becomes a parsed line, or a malformed one that goes to
// the dead letter (counted in metrics.DeadLettered) or, with failFast, fails the job.
type parser struct {
	failFast bool
	dead     *atomic.Int64
}

func (p *parser) Open(rc *stream.RuntimeContext) error {
	p.dead = rc.Counter(metrics.DeadLettered)
	return nil
}

func (p *parser) ProcessElement(_ *stream.Context, r kafka.Record, out stream.Collector[parsed]) error {
	l, err := Parse(r.Value)
	if err != nil {
		rerr := format.NewRecordError("log", format.Position{Source: fmt.Sprintf("%s/%d", r.Topic, r.Partition), Offset: r.Offset}, "", r.Value, err)
		if p.failFast {
			return fmt.Errorf("kafkalogs: %w", rerr)
		}
		p.dead.Add(1)
		out.Collect(parsed{Bad: true, Raw: r.Value, Reason: rerr.Error()})
		return nil
	}
	out.Collect(parsed{Log: l})
	return nil
}

// Enrich adds the owner of l's service.
func Enrich(l Log, owners map[string]Owner) Enriched {
	ow, ok := owners[l.Service]
	if !ok {
		ow = Owner{Team: "unknown", Owner: "unknown"}
	}
	return Enriched{Log: l, Team: ow.Team, Owner: ow.Owner}
}

var (
	services = []string{"checkout", "search", "cart", "auth", "billing"}
	levels   = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
)

// Generate returns line n of the generated input, ten lines per second from start; every
// badEvery-th line (0: none) is malformed.
func Generate(start time.Time, n int64, badEvery int64) string {
	if badEvery > 0 && n%badEvery == badEvery-1 {
		return fmt.Sprintf("garbage line %d", n)
	}
	t := start.Add(time.Duration(n) * 100 * time.Millisecond).UTC()
	return fmt.Sprintf("%s %s %s request %d handled", t.Format(time.RFC3339Nano), levels[n%int64(len(levels))], services[n%int64(len(services))], n)
}

// BuildProducer adds to env a bounded job writing n generated lines to topic, one malformed
// line in every badEvery.
func BuildProducer(env *stream.Env, brokers []string, topic string, n, badEvery int64, start time.Time) error {
	sink, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: kafka.Cluster{Brokers: brokers, ConnectTimeout: 10 * time.Second}, Topic: topic},
		func(line string) (kafka.Record, error) { return kafka.Record{Value: []byte(line)}, nil })
	if err != nil {
		return err
	}
	src, err := datagen.New(func(i int64) string { return Generate(start, i, badEvery) }, datagen.Config{Count: n})
	if err != nil {
		return err
	}
	stream.FromSource(env, src, eventtime.Strategy[string]{}).Name("generated logs").Uid("generated-logs").
		SinkTo(sink).Name("kafka " + topic).Uid("kafka-produce")
	return nil
}

// BuildPrinter adds to env a bounded job printing the committed records of topic to w, one
// per line as they are (with the "error" header, if any, after a tab), as kafka-console-consumer
// prints them.
func BuildPrinter(env *stream.Env, brokers []string, topic string, w io.Writer) error {
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: kafka.Cluster{Brokers: brokers, ConnectTimeout: 10 * time.Second},
		Topics: []string{topic}, Bounded: true, ReadCommitted: true})
	if err != nil {
		return err
	}
	lines := stream.Map(stream.FromSource(env, src, eventtime.Strategy[kafka.Record]{}).Name("kafka "+topic).Uid("kafka-print"), func(r kafka.Record) string {
		s := string(r.Value)
		for _, h := range r.Headers {
			if h.Key == "error" {
				s += "\t" + string(h.Value)
			}
		}
		return s
	}).Name("format").Uid("format")
	lines.SinkTo(lineSink{mu: new(sync.Mutex), w: w}).Name("print").Uid("print")
	return nil
}

// lineSink writes each string to w as a line (stream.Print would write it as a JSON string).
// Writes from parallel subtasks are serialised by mu.
type lineSink struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s lineSink) NewWriter(context.Context, connector.SinkContext) (connector.Writer[string], error) {
	return s, nil
}

func (s lineSink) Write(_ context.Context, line string, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := io.WriteString(s.w, line+"\n")
	return err
}

func (lineSink) PreCommit(context.Context, int64) ([]connector.Committable, error) { return nil, nil }
func (lineSink) Close() error                                                      { return nil }
