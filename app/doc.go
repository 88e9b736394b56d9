// Package app runs a DataStream program as a command-line job: the flags of `runnel run`
// (parallelism, checkpoints, state backend, restore, restarts, REST address), signal handling,
// structured logs and progress lines, and a small REST API for savepoints. A user program is
// one call:
//
//	func main() {
//		app.Main("page-views", func(env *stream.Env) error {
//			clicks, err := clickstream.Source(env, clickstream.Options{})
//			if err != nil {
//				return err
//			}
//			clickstream.CountViews(clicks, time.Minute).Print()
//			return nil
//		})
//	}
//
// and `go run . --checkpoint-dir /tmp/ckpt --restore latest` then behaves like `runnel run`:
// the same flags (POSIX style, --name value), --help and --version, errors on one line naming
// the flag and the fix, and a summary of what the job read, wrote and dropped when it ends.
//
// The files:
//
//	options.go   Options: the flags, their defaults, Validate
//	run.go       Main, Run (parse and execute), Execute (one job from Options)
//	status.go    what the job is doing, fed by the metrics listener; progress log lines
//	summary.go   the totals of a job's metrics, printed when it ends
//	rest.go      the REST API: POST /v1/savepoints, GET /v1/job; the client (Savepoint)
//
// Programs that need their own flags make a github.com/spf13/pflag FlagSet (or a cobra
// command), call Options.AddFlags on it, add their own flags (those of the standard flag
// package with AddGoFlagSet), parse, and call Execute; `runnel run` does that to add the
// examples' flags.
package app
