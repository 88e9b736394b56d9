package nexmark

import (
	"fmt"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/datagen"
)

// SourceOptions bound and pace NewSource. The zero value is an unbounded stream produced as
// fast as downstream takes it.
type SourceOptions struct {
	// Events bounds the stream to events 0..Events-1; 0 means unbounded.
	Events int64
	// Rate limits generation to this many events per wall-clock second over all readers; 0
	// means no limit.
	Rate float64
}

// Validate reports whether o is usable: Events and Rate not negative, Rate finite.
func (o SourceOptions) Validate() error {
	if o.Events < 0 {
		return fmt.Errorf("nexmark: negative event count %d", o.Events)
	}
	if err := (datagen.Config{Count: o.Events, Rate: o.Rate}).Validate(); err != nil {
		return fmt.Errorf("nexmark: source: %w", err)
	}
	return nil
}

// NewSource returns a parallel, splittable source of the Nexmark stream cfg describes: reader i
// of p produces events i, i+p, i+2p, ..., so every event appears once and event n is the same
// at any parallelism. Records carry no timestamp of their own: give the job a watermark
// strategy on Event.Time, for example eventtime.BoundedOutOfOrderness. It returns the
// generator's configuration errors and bad options.
//
// The source implements connector.SplitCodec: its splits are checkpointed as their next event
// number, and a restored reader goes on with the event after the last one it emitted.
func NewSource(cfg Config, o SourceOptions) (connector.Source[Event], error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	src, err := datagen.New(g.Event, datagen.Config{Count: o.Events, Rate: o.Rate})
	if err != nil {
		return nil, fmt.Errorf("nexmark: source: %w", err)
	}
	return src, nil
}

var _ connector.SplitCodec = (*datagen.Source[Event])(nil)
