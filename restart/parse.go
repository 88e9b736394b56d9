package restart

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Parse returns the strategy a spec describes, fresh. A spec is a strategy name, optionally
// followed by ':' and comma-separated key=value options; spaces around names, keys and values
// are ignored, and omitted keys take the strategy's defaults:
//
//	none                                   (aliases off, disable)
//	fixed-delay:attempts=3,delay=10s       (alias fixeddelay; defaults attempts=1, delay=1s)
//	exponential:initial=1s,max=1m,multiplier=2,jitter=0.1,reset-after=1h,attempts=0,seed=42
//	                                       (aliases exponential-delay, exponentialdelay;
//	                                        defaults as ExponentialOptions)
//	failure-rate:max=3,interval=5m,delay=10s
//	                                       (alias failurerate; defaults max=1, interval=1m, delay=1s)
//
// Durations use time.ParseDuration syntax. For exponential, attempts is MaxAttempts (0 =
// unlimited), reset is accepted for reset-after, and seed (an unsigned integer) makes the
// jitter reproducible. Errors start with "restart: parse <spec>:" and name the bad strategy,
// key or value: unknown names and keys, repeated keys, malformed options, values that do not
// parse and values out of range.
func Parse(spec string) (Strategy, error) {
	s, err := parse(spec)
	if err != nil {
		return nil, fmt.Errorf("restart: parse %q: %w", spec, err)
	}
	return s, nil
}

func parse(spec string) (Strategy, error) {
	name, rest, hasOpts := strings.Cut(spec, ":")
	name = strings.TrimSpace(name)
	opts, err := parseOptions(rest, hasOpts)
	if err != nil {
		return nil, err
	}
	switch name {
	case "none", "off", "disable":
		if err := opts.done(); err != nil {
			return nil, fmt.Errorf("%s takes no options: %w", name, err)
		}
		return None(), nil
	case "fixed-delay", "fixeddelay":
		attempts := opts.count("attempts", DefaultFixedAttempts)
		delay := opts.duration("delay", DefaultFixedDelay)
		if err := opts.done(); err != nil {
			return nil, err
		}
		return FixedDelay(attempts, delay), nil
	case "failure-rate", "failurerate":
		maxFailures := opts.count("max", DefaultFailureRateMax)
		interval := opts.duration("interval", DefaultFailureRateInterval)
		delay := opts.duration("delay", DefaultFailureRateDelay)
		if interval == 0 {
			opts.fail(fmt.Errorf("interval: must be positive"))
		}
		if err := opts.done(); err != nil {
			return nil, err
		}
		return FailureRate(maxFailures, interval, delay), nil
	case "exponential", "exponential-delay", "exponentialdelay":
		var o ExponentialOptions
		o.Initial = opts.positive("initial")
		o.Max = opts.positive("max")
		if m, ok := opts.float("multiplier"); ok {
			if !(m >= 1) { // explicit 0 would otherwise silently mean the default
				opts.fail(fmt.Errorf("multiplier: %v is below 1", m))
			}
			o.Multiplier = m
		}
		o.Jitter, _ = opts.float("jitter")
		if _, alias := opts.vals["reset"]; alias {
			if _, both := opts.vals["reset-after"]; both {
				opts.fail(fmt.Errorf("reset: given together with its alias reset-after"))
			}
			o.ResetAfter = opts.positive("reset")
		} else {
			o.ResetAfter = opts.positive("reset-after")
		}
		o.MaxAttempts = opts.count("attempts", 0)
		if seed, ok := opts.uint("seed"); ok {
			o.seed = &seed
			o.Rand = rand.NewPCG(seed, seed)
		}
		if err := opts.done(); err != nil {
			return nil, err
		}
		if err := o.problems(); err != nil {
			return nil, err
		}
		return ExponentialDelay(o), nil
	case "":
		return nil, fmt.Errorf("missing strategy name (want none, fixed-delay, exponential or failure-rate)")
	default:
		return nil, fmt.Errorf("unknown strategy %q (want none, fixed-delay, exponential or failure-rate)", name)
	}
}

// options holds a spec's key=value pairs while a strategy's case consumes them. Getters record
// the first error in err and return the default after one.
type options struct {
	order []string          // keys in spec order, for deterministic "unknown key" errors
	vals  map[string]string // unconsumed keys
	err   error
}

func parseOptions(s string, present bool) (*options, error) {
	o := &options{vals: map[string]string{}}
	if !present {
		return o, nil
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty option list after ':'")
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return nil, fmt.Errorf("option %q: want key=value", strings.TrimSpace(kv))
		case k == "":
			return nil, fmt.Errorf("option %q: missing key", strings.TrimSpace(kv))
		case v == "":
			return nil, fmt.Errorf("%s: missing value", k)
		}
		if _, dup := o.vals[k]; dup {
			return nil, fmt.Errorf("%s: given twice", k)
		}
		o.vals[k] = v
		o.order = append(o.order, k)
	}
	return o, nil
}

// take removes key and returns its value.
func (o *options) take(key string) (string, bool) {
	v, ok := o.vals[key]
	if ok {
		delete(o.vals, key)
	}
	return v, ok && o.err == nil
}

func (o *options) count(key string, def int) int {
	v, ok := o.take(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		o.fail(fmt.Errorf("%s: %q is not a non-negative integer", key, v))
		return def
	}
	return n
}

func (o *options) uint(key string) (uint64, bool) {
	v, ok := o.take(key)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		o.fail(fmt.Errorf("%s: %q is not an unsigned integer", key, v))
		return 0, false
	}
	return n, true
}

func (o *options) duration(key string, def time.Duration) time.Duration {
	v, ok := o.take(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		o.fail(fmt.Errorf("%s: %q is not a non-negative duration such as 10s or 1m30s", key, v))
		return def
	}
	return d
}

// positive is duration for keys whose default is the zero value of an options field, so that
// an explicit zero is refused rather than silently meaning the default.
func (o *options) positive(key string) time.Duration {
	given := o.given(key)
	d := o.duration(key, 0)
	if given && d == 0 {
		o.fail(fmt.Errorf("%s: must be positive", key))
	}
	return d
}

func (o *options) float(key string) (float64, bool) {
	v, ok := o.take(key)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		o.fail(fmt.Errorf("%s: %q is not a number", key, v))
		return 0, false
	}
	return f, true
}

// given reports whether the spec had key, consumed or not.
func (o *options) given(key string) bool {
	for _, k := range o.order {
		if k == key {
			return true
		}
	}
	return false
}

// fail records err unless an earlier error is recorded.
func (o *options) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// done returns the first getter error, or an error naming the first key nobody consumed.
func (o *options) done() error {
	if o.err != nil {
		return o.err
	}
	for _, k := range o.order {
		if _, ok := o.vals[k]; ok {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	return nil
}
