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
// and `go run . --checkpoint-dir /tmp/ckpt --restore latest` then behaves like `runnel run`.
//
// The files:
//
//	options.go   Options: the flags, their defaults, Validate
//	run.go       Main, Run (parse and execute), Execute (one job from Options)
//	status.go    what the job is doing, fed by the metrics listener; progress log lines
//	rest.go      the REST API: POST /v1/savepoints, GET /v1/job; the client (Savepoint)
//
// Programs that need their own flags build a flag.FlagSet, call Options.AddFlags on it, parse,
// and call Execute; cmd/runnel's run verb does that to add --events and --output.
package app
