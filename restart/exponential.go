package restart

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Exponential-delay defaults, used for zero fields of ExponentialOptions and keys Parse does not
// see. They are Flink's defaults before 1.19 (restart-strategy.exponential-delay.*).
const (
	DefaultExponentialInitial    = time.Second
	DefaultExponentialMax        = 5 * time.Minute
	DefaultExponentialMultiplier = 2.0
	DefaultExponentialResetAfter = time.Hour
)

// ExponentialOptions configures ExponentialDelay. The zero value is valid and means the
// defaults below.
type ExponentialOptions struct {
	// Initial is the delay before the first restart, and after every reset of the backoff.
	// Default DefaultExponentialInitial (1s), or Max when that is smaller; Flink's
	// initial-backoff.
	Initial time.Duration
	// Max caps the delay before jitter. Default DefaultExponentialMax (5m), or Initial when that
	// is larger; Flink's max-backoff.
	Max time.Duration
	// Multiplier scales the delay after each failure; it must be at least 1. Default
	// DefaultExponentialMultiplier (2); Flink's backoff-multiplier.
	Multiplier float64
	// Jitter is the fraction, in [0, 1], by which each delay is moved up or down at random:
	// a delay d becomes uniform in [d-Jitter*d, d+Jitter*d], which may exceed Max as in Flink.
	// Default 0, no jitter (Flink's jitter-factor defaults to 0.1; set it explicitly).
	Jitter float64
	// Rand is the source of jitter. Strategies built with the same seeded source make the same
	// decisions. Default nil: the process-wide random source of math/rand/v2 (not
	// reproducible). The strategy owns it once passed.
	Rand rand.Source
	// ResetAfter is the quiet period that resets the backoff: when a failure comes at least
	// ResetAfter after the previous restart was due (previous failure plus its delay), the delay
	// goes back to Initial and the attempt count to zero. Default DefaultExponentialResetAfter
	// (1h); Flink's reset-backoff-threshold.
	ResetAfter time.Duration
	// MaxAttempts is the number of restarts allowed between resets of the backoff; the next
	// failure fails the job. Default 0, unlimited; Flink's attempts-before-reset-backoff.
	MaxAttempts int

	// seed is set by Parse so that String can print it back.
	seed *uint64
}

// Validate reports every invalid field, each named by its Parse key (initial, max, multiplier,
// jitter, reset-after, attempts). ExponentialDelay panics on options that fail Validate.
func (o ExponentialOptions) Validate() error {
	if err := o.problems(); err != nil {
		return fmt.Errorf("restart: invalid exponential options: %w", err)
	}
	return nil
}

// problems joins one error per invalid field, or returns nil.
func (o ExponentialOptions) problems() error {
	var errs []error
	if o.Initial < 0 {
		errs = append(errs, fmt.Errorf("initial: negative duration %v", o.Initial))
	}
	if o.Max < 0 {
		errs = append(errs, fmt.Errorf("max: negative duration %v", o.Max))
	} else if o.Max != 0 && o.Max < o.Initial {
		errs = append(errs, fmt.Errorf("max: %v is below initial %v", o.Max, o.Initial))
	}
	if o.Multiplier != 0 && !(o.Multiplier >= 1 && o.Multiplier <= math.MaxFloat64) {
		errs = append(errs, fmt.Errorf("multiplier: %v is not a finite number >= 1", o.Multiplier))
	}
	if !(o.Jitter >= 0 && o.Jitter <= 1) {
		errs = append(errs, fmt.Errorf("jitter: %v is not in [0, 1]", o.Jitter))
	}
	if o.ResetAfter < 0 {
		errs = append(errs, fmt.Errorf("reset-after: negative duration %v", o.ResetAfter))
	}
	if o.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("attempts: negative count %d", o.MaxAttempts))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o ExponentialOptions) withDefaults() ExponentialOptions {
	if o.Initial == 0 {
		o.Initial = DefaultExponentialInitial
		if o.Max != 0 {
			o.Initial = min(o.Initial, o.Max)
		}
	}
	if o.Max == 0 {
		o.Max = max(DefaultExponentialMax, o.Initial)
	}
	if o.Multiplier == 0 {
		o.Multiplier = DefaultExponentialMultiplier
	}
	if o.ResetAfter == 0 {
		o.ResetAfter = DefaultExponentialResetAfter
	}
	return o
}

// ExponentialDelay returns a strategy whose delay starts at Initial and is multiplied by
// Multiplier after each failure, up to Max, with optional jitter. A failure after a quiet
// period of ResetAfter starts again from Initial; MaxAttempts, when set, bounds the restarts
// between such resets.
//
// It is Flink's "exponential-delay" (restart-strategy.exponential-delay.*); the option docs
// give each default. Unlike Flink 1.19+, failures are not merged when they arrive during a
// backoff: every call of Next is one failure. ExponentialDelay panics if opts fails Validate;
// Parse reports those as errors instead.
func ExponentialDelay(opts ExponentialOptions) Strategy {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.withDefaults()
	s := &exponential{opts: o}
	if o.Rand != nil {
		s.rand = rand.New(o.Rand)
	}
	return s
}

type exponential struct {
	opts ExponentialOptions
	rand *rand.Rand // nil: math/rand/v2's global source

	attempts    int           // restarts since creation or the last reset of the backoff
	backoff     time.Duration // delay before jitter of the last restart; 0 before any
	lastFailure time.Time     // time of the last restarted failure
	lastDelay   time.Duration // delay returned for it, after jitter
}

var _ Strategy = (*exponential)(nil)

func (s *exponential) Next(now time.Time, err error) (bool, time.Duration) {
	if isUnrecoverable(err) {
		return false, 0
	}
	if s.backoff != 0 && now.Sub(s.lastFailure)-s.lastDelay >= s.opts.ResetAfter {
		s.Reset()
	}
	if s.opts.MaxAttempts > 0 && s.attempts >= s.opts.MaxAttempts {
		return false, 0
	}
	if s.backoff == 0 {
		s.backoff = s.opts.Initial
	} else {
		s.backoff = scale(s.backoff, s.opts.Multiplier, s.opts.Max)
	}
	s.attempts++
	s.lastFailure = now
	s.lastDelay = s.jitter(s.backoff)
	return true, s.lastDelay
}

// scale returns min(d*m, limit) without overflowing.
func scale(d time.Duration, m float64, limit time.Duration) time.Duration {
	f := float64(d) * m
	if f >= float64(limit) {
		return limit
	}
	return time.Duration(f)
}

// jitter moves d uniformly within [d-j*d, d+j*d], saturating at the largest Duration.
func (s *exponential) jitter(d time.Duration) time.Duration {
	j := s.opts.Jitter
	if j == 0 {
		return d
	}
	var u float64
	if s.rand != nil {
		u = s.rand.Float64()
	} else {
		u = rand.Float64()
	}
	f := float64(d) * (1 + j*(2*u-1))
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(f)
}

func (s *exponential) Reset() {
	s.attempts = 0
	s.backoff = 0
	s.lastFailure = time.Time{}
	s.lastDelay = 0
}

// String returns the canonical spec. A Rand given in ExponentialOptions cannot be printed, so
// only a seed that came from Parse appears in it.
func (s *exponential) String() string {
	o := s.opts
	var b strings.Builder
	fmt.Fprintf(&b, "exponential:initial=%v,max=%v,multiplier=%s,jitter=%s,reset-after=%v,attempts=%d",
		o.Initial, o.Max, strconv.FormatFloat(o.Multiplier, 'g', -1, 64),
		strconv.FormatFloat(o.Jitter, 'g', -1, 64), o.ResetAfter, o.MaxAttempts)
	if o.seed != nil {
		fmt.Fprintf(&b, ",seed=%d", *o.seed)
	}
	return b.String()
}
