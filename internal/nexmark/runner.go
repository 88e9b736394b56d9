package nexmark

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// Options configure Run. Query and Events are required; every other field has a default.
type Options struct {
	// Query names the query: "q5" (or "5").
	Query string
	// Events is the number of events to generate, persons, auctions and bids together.
	Events int64
	// Parallelism is the parallelism of every operator; 0 means Engine.Parallelism, and if
	// that is 0 too, GOMAXPROCS.
	Parallelism int
	// Rate limits the source to this many events per wall-clock second; 0 means as fast as the
	// job takes them. With a rate, the generator's event-time rate defaults to the same value,
	// so that event time follows the wall clock and latency can be measured.
	Rate float64
	// Generator configures the event stream; its zero value is Nexmark's default stream.
	Generator nexmark.Config
	// OutOfOrderness is the source's watermark delay (see SourceOptions).
	OutOfOrderness time.Duration
	// Output receives the results as JSON lines, one object per result with the query's
	// column names; nil discards them. Writes are serialised; Run does not close it.
	Output io.Writer
	// Progress, if set, is called about every ProgressInterval while the job runs, and once at
	// the end, from one goroutine.
	Progress func(Progress)
	// ProgressInterval is how often Progress is called; default 1s.
	ProgressInterval time.Duration
	// Engine is the rest of the job's configuration (batch size, buffers, clock, logger). Run
	// sets its Parallelism from Parallelism when that is set, and its Metrics and
	// MetricsInterval when Progress is.
	Engine stream.Config
}

// Validate reports options Run cannot use.
func (o Options) Validate() error {
	if _, err := Lookup(o.Query); err != nil {
		return err
	}
	if o.Events <= 0 {
		return fmt.Errorf("nexmark: event count %d must be positive", o.Events)
	}
	if o.Parallelism < 0 {
		return fmt.Errorf("nexmark: negative parallelism %d", o.Parallelism)
	}
	if o.Rate < 0 || o.Rate > maxRate || math.IsNaN(o.Rate) {
		return fmt.Errorf("nexmark: rate %v out of range [0, %d]", o.Rate, maxRate)
	}
	return o.GeneratorConfig().Validate()
}

// maxRate bounds Options.Rate, far above what one process generates.
const maxRate = 1 << 30

// GeneratorConfig returns the configuration of the event stream Run generates: Generator, with
// the event-time rate set to Rate if Rate is set and Generator.EventsPerSecond is not.
func (o Options) GeneratorConfig() nexmark.Config {
	gen := o.Generator
	if o.Rate > 0 && gen.EventsPerSecond == 0 {
		gen.EventsPerSecond = max(int(math.Round(o.Rate)), 1)
	}
	return gen
}

// Progress is how far a running job has come.
type Progress struct {
	// Events is the number of events the source has emitted.
	Events int64
	// Elapsed is the time since the job started.
	Elapsed time.Duration
}

// Result is what Run measured. Its JSON form is what `runnel bench nexmark --json` prints.
type Result struct {
	Query       string `json:"query"`
	Events      int64  `json:"events"`
	Parallelism int    `json:"parallelism"`
	// Rate is the source's rate limit, 0 for none.
	Rate float64 `json:"rate,omitempty"`
	// Results is the number of results the query produced.
	Results int64 `json:"results"`
	// WallSeconds is the job's run time, from Execute to the end of the last task.
	WallSeconds float64 `json:"wall_seconds"`
	// CPUSeconds is the CPU time (user plus system) the process used meanwhile, on all cores,
	// garbage collection included; 0 where the platform does not tell.
	CPUSeconds         float64 `json:"cpu_seconds"`
	EventsPerSecond    float64 `json:"events_per_second"`
	EventsPerCPUSecond float64 `json:"events_per_cpu_second"`
	// Latency percentiles, measured only with a rate (nil otherwise). A result's latency is
	// the wall time at which it reached the sink minus the wall time at which the last event it
	// depends on was due: the result's timestamp mapped to the wall clock, as event time
	// follows it from the job's start (for windowed results, the timestamp is the window's
	// end). It therefore includes the watermark delay and interval, as a user would see them.
	// Results stamped after the last event (windows the end of input closed) are left out;
	// LatencySamples counts the others.
	LatencySamples int64    `json:"latency_samples,omitempty"`
	LatencyP50Ms   *float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Ms   *float64 `json:"latency_p99_ms,omitempty"`
	LatencyMaxMs   *float64 `json:"latency_max_ms,omitempty"`
}

// Run runs one query over Options.Events generated events and returns what it measured. It
// blocks until the job ends; cancelling ctx stops it and Run returns ctx's error. It returns
// Validate's errors and the job's failure.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	q, _ := Lookup(o.Query)
	cfg := o.Engine
	if o.Parallelism > 0 {
		cfg.Parallelism = o.Parallelism
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = runtime.GOMAXPROCS(0)
	}
	if cfg.Clock == nil {
		cfg.Clock = eventtime.RealClock()
	}
	gen := o.GeneratorConfig()
	// Latency needs event time to follow the wall clock.
	measureLatency := o.Rate > 0 && o.Generator.EventsPerSecond == 0 && gen.EventsPerSecond >= 1

	var start time.Time
	if o.Progress != nil {
		cfg.MetricsInterval = o.ProgressInterval
		cfg.Metrics = metrics.ListenerFunc(func(s metrics.Snapshot) {
			o.Progress(Progress{Events: sourced(s), Elapsed: s.Time.Sub(start)})
		})
	}
	env := stream.New("nexmark "+q.Name, cfg)
	events, g, err := Source(env, SourceOptions{Generator: gen, Events: o.Events, Rate: o.Rate, OutOfOrderness: o.OutOfOrderness})
	if err != nil {
		return Result{}, err
	}
	sink := &resultSink{out: o.Output}
	if measureLatency {
		sink.clock, sink.base, sink.last = cfg.Clock, g.Config().BaseTime, g.Time(o.Events-1)
	}
	q.attach(env, events, sink)
	if err := env.Validate(); err != nil {
		return Result{}, fmt.Errorf("nexmark: %s: %w", q.Name, err)
	}

	cpu0, cpuOK := processCPU()
	start = cfg.Clock.Now()
	sink.start = start
	err = env.Execute(ctx)
	wall := cfg.Clock.Since(start)
	cpu1, _ := processCPU()
	if err != nil {
		return Result{}, fmt.Errorf("nexmark: %s: %w", q.Name, err)
	}

	r := Result{Query: q.Name, Events: o.Events, Parallelism: cfg.Parallelism, Rate: o.Rate,
		Results: sink.results, WallSeconds: wall.Seconds()}
	if wall > 0 {
		r.EventsPerSecond = float64(o.Events) / wall.Seconds()
	}
	if cpu := cpu1 - cpu0; cpuOK && cpu > 0 {
		r.CPUSeconds = cpu.Seconds()
		r.EventsPerCPUSecond = float64(o.Events) / cpu.Seconds()
	}
	if measureLatency && sink.latency.total > 0 {
		ms := func(d time.Duration) *float64 { v := float64(d) / float64(time.Millisecond); return &v }
		r.LatencySamples = sink.latency.total
		r.LatencyP50Ms = ms(sink.latency.quantile(0.50))
		r.LatencyP99Ms = ms(sink.latency.quantile(0.99))
		r.LatencyMaxMs = ms(sink.latency.max)
	}
	return r, nil
}

// sourced returns the number of records the source has emitted, over its subtasks.
func sourced(s metrics.Snapshot) int64 {
	var n int64
	for _, op := range s.Operators {
		if op.Operator == SourceName {
			n += op.RecordsOut
		}
	}
	return n
}

// DumpEvents writes events 0..n-1 of the stream cfg describes to w as JSON lines
// (nexmark.AppendJSON), stopping early if ctx is cancelled. It returns cfg's validation error
// or the first write error.
func DumpEvents(ctx context.Context, w io.Writer, cfg nexmark.Config, n int64) error {
	g, err := nexmark.NewGenerator(cfg)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var (
		e   nexmark.Event
		s   nexmark.Scratch
		buf []byte
	)
	for i := range n {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		g.Fill(i, &e, &s)
		buf = append(nexmark.AppendJSON(buf[:0], &e), '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("nexmark: dumping event %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("nexmark: dumping events: %w", err)
	}
	return nil
}
