// Package bench holds the benchmark harnesses that `runnel bench` runs, apart from the command
// that parses their flags:
//
//	nexmark.go     Nexmark: one Nexmark query on the deterministic generator (internal/nexmark
//	               runs it), with optional checkpoints, Pebble state, output and event dumps
//	checkpoint.go  Checkpoint: build keyed state of a given size, checkpoint it, fail once and
//	               recover, measuring each step and the pauses records see
//	files.go       Files: Nexmark q1 from JSON-lines files to JSON-lines files, a job against a
//	               hand-written loop, in events per CPU-second
//	bench.go       what they share: scratch directories, units
//
// Each harness is a struct whose fields mirror the flags of its `runnel bench` command, with a
// Validate that names the flag at fault and a Run(ctx, stdout, stderr) that prints the result to
// stdout (one JSON object with JSON set) and progress to stderr. Measured figures, with the
// command and date, go to docs/PERFORMANCE.md.
package bench
