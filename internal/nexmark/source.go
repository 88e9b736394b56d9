package nexmark

import (
	"fmt"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// SourceName is the name of the source operator Source adds; metrics of the source carry it.
const SourceName = "nexmark"

// DefaultOutOfOrderness is the watermark delay Source uses when SourceOptions.OutOfOrderness is
// zero.
const DefaultOutOfOrderness = 100 * time.Millisecond

// SourceOptions configure Source. The zero value is an unbounded, unthrottled stream of
// Nexmark's default configuration.
type SourceOptions struct {
	// Generator configures the event stream (seed, event-time rate, ...); its zero value is
	// Nexmark's default stream.
	Generator nexmark.Config
	// Events bounds the stream to events 0..Events-1; 0 means unbounded.
	Events int64
	// Rate limits generation to this many events per wall-clock second over all readers; 0
	// means as fast as downstream takes them.
	Rate float64
	// OutOfOrderness is the watermark delay behind the largest event time seen in a split.
	// The generator is in order within a split, so any value is exact; larger values only
	// delay results. Zero means DefaultOutOfOrderness; negative means none.
	OutOfOrderness time.Duration
}

// Validate reports options Source cannot use.
func (o SourceOptions) Validate() error {
	if o.Events < 0 {
		return fmt.Errorf("nexmark: negative event count %d", o.Events)
	}
	if o.Rate < 0 {
		return fmt.Errorf("nexmark: negative rate %v", o.Rate)
	}
	return o.Generator.Validate()
}

// Source adds the Nexmark generator to env as a parallel source of events, stamped with
// Event.Time and with bounded-out-of-orderness watermarks. Event n is the same at any
// parallelism. It returns the generator too, for callers that want to know what it produced.
// Errors come from Validate and from the generator's configuration.
func Source(env *stream.Env, o SourceOptions) (stream.Stream[nexmark.Event], *nexmark.Generator, error) {
	if err := o.Validate(); err != nil {
		return stream.Stream[nexmark.Event]{}, nil, err
	}
	g, err := nexmark.NewGenerator(o.Generator)
	if err != nil {
		return stream.Stream[nexmark.Event]{}, nil, err
	}
	src, err := datagen.New(g.Event, datagen.Config{Count: o.Events, Rate: o.Rate})
	if err != nil {
		return stream.Stream[nexmark.Event]{}, nil, fmt.Errorf("nexmark: source: %w", err)
	}
	return stream.FromSource(env, src, watermarks(o.OutOfOrderness)).Name(SourceName), g, nil
}

// watermarks is the source's watermark strategy for the OutOfOrderness option delay.
func watermarks(delay time.Duration) eventtime.Strategy[nexmark.Event] {
	switch {
	case delay == 0:
		delay = DefaultOutOfOrderness
	case delay < 0:
		delay = 0
	}
	return eventtime.BoundedOutOfOrderness(delay, eventTime)
}

func eventTime(e nexmark.Event) int64 { return e.Time() }
