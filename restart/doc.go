// Package restart decides whether, and after what delay, a failed job is restarted: Flink's
// restart strategies as small pure state machines.
//
// A [Strategy] never sleeps, starts goroutines or reads the clock. The runtime calls
// [Strategy.Next] with the time of the failure (from its injected clock) and the failure's
// error, then waits the returned delay itself (or fails the job). That keeps every decision
// reproducible in tests with a fixed "now".
//
// The strategies and their Flink equivalents (restart-strategy.type):
//
//	None              none, off, disable
//	FixedDelay        fixed-delay
//	ExponentialDelay  exponential-delay
//	FailureRate       failure-rate
//
// [Parse] reads the same strategies from a one-line spec for flags and config files, and every
// strategy's String method prints the canonical spec Parse accepts back.
//
// Errors wrapping [ErrUnrecoverable] (for example a job graph that fails validation) are never
// restarted by any strategy and do not count as attempts.
package restart
