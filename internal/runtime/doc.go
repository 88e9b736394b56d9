// Package runtime runs a job graph: it turns nodes into parallel tasks, chains operators that
// need no exchange into one goroutine, connects the rest with bounded exchanges, drives event
// time, timers and end of input, and turns any failure into one error naming the operator and
// the record.
//
// Threading: every task is one goroutine that owns its operators and their state. Records,
// watermarks and end-of-input markers travel between tasks as envelopes on one bounded inbox
// channel per task, so a full inbox blocks the sender (backpressure). Inside a task, an
// operator calls the next one directly through Output.
//
// Failures inside a task (a user function's error or panic, a cancelled context while blocked
// on a full inbox) unwind the task's stack as a panic carrying a *taskAbort, recovered once at
// the top of the task goroutine. That keeps error checks off the per-record path.
package runtime
