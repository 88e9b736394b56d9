package snapshot

import (
	"fmt"
	"time"
)

// DefaultTimeout is Config.Timeout when it is zero, as in Flink.
const DefaultTimeout = 10 * time.Minute

// Config configures a Coordinator. The zero Config is valid: it disables periodic checkpoints
// (savepoints still work), and every other field has the default its comment states.
type Config struct {
	// Interval is the time between the triggers of two periodic checkpoints; 0 (the default)
	// disables periodic checkpoints.
	Interval time.Duration
	// MinPause is the least time between the end (completion or abort) of one snapshot and
	// the trigger of the next periodic checkpoint; default 0. As in Flink, a MinPause above
	// zero also keeps periodic checkpoints from overlapping any snapshot in flight, whatever
	// MaxConcurrent says. Savepoints ignore it.
	MinPause time.Duration
	// Timeout is how long a snapshot may wait for the acknowledgements of all tasks before
	// it is aborted; 0 means DefaultTimeout (10 minutes). Writing the metadata (between
	// Finalize and Finalized) is not subject to it: the caller bounds that I/O itself.
	Timeout time.Duration
	// TolerableFailures is the number of consecutive checkpoint failures tolerated: the
	// failure after that many emits FailJob. The default 0 fails the job at the first failed
	// checkpoint, as in Flink. Only failures that say something is wrong count: a timeout, a
	// decline (other than ErrTaskNotReady) and a failed metadata write. Savepoints never count.
	TolerableFailures int
	// MaxConcurrent is the number of snapshots (checkpoints and savepoints) in flight at
	// once; 0 means 1. Savepoints requested while it is reached wait in a queue.
	MaxConcurrent int
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 1
	}
	return c
}

// Validate reports a Config that cannot work: negative durations or counts.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("checkpoint: negative interval %v", c.Interval)
	case c.MinPause < 0:
		return fmt.Errorf("checkpoint: negative min pause %v", c.MinPause)
	case c.Timeout < 0:
		return fmt.Errorf("checkpoint: negative timeout %v", c.Timeout)
	case c.TolerableFailures < 0:
		return fmt.Errorf("checkpoint: negative tolerable failures %d", c.TolerableFailures)
	case c.MaxConcurrent < 0:
		return fmt.Errorf("checkpoint: negative max concurrent checkpoints %d", c.MaxConcurrent)
	}
	return nil
}
