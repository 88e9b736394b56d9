package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/stream"
)

// The files benchmark compares, in one process and one run, Nexmark q1 over a JSON-lines file
// of bids done two ways: as a Runnel job (file source → Map → exactly-once file sink, through
// the stream package) and as a hand-written single-goroutine loop (bufio.Scanner, format/json
// decode, q1, format/json encode, bufio.Writer). Both use the same JSON library and write the
// same bytes, which the benchmark checks. Each side is measured in events per CPU-second, the
// CPU being the process's user+system time (getrusage) around the side, so every goroutine the
// job starts counts; the two sides alternate within each round so that load from other
// processes falls on both. The figures reported are medians over the rounds.

// q1Bid is Nexmark query 1 on a bid: the price in euros, 0.908 × the price in dollars (in
// cents, truncated).
func q1Bid(b nexmark.Bid) nexmark.Bid {
	b.Price = b.Price * 908 / 1000
	return b
}

// Files is the files benchmark (`runnel bench files`); DefaultFiles returns its defaults.
type Files struct {
	// Events is the number of bids in the input.
	Events int
	// Parallelisms are the job parallelisms measured; the input is split into that many files
	// for each.
	Parallelisms []int
	// Rounds is the number of rounds per parallelism; medians are reported.
	Rounds int
	// Dir is the scratch directory; empty means a temporary directory, removed afterwards.
	Dir string
	// CPUProfile, if set, is a file a CPU profile of all rounds is written to; samples are
	// labelled side=loop or side=job (pprof -tagfocus).
	CPUProfile string
}

// DefaultFiles returns the benchmark's defaults: 2,000,000 bids, parallelisms 1 and 2, 3
// rounds.
func DefaultFiles() Files { return Files{Events: 2_000_000, Parallelisms: []int{1, 2}, Rounds: 3} }

// Validate reports settings that cannot run, naming the flag of `runnel bench files`.
func (f Files) Validate() error {
	switch {
	case f.Events <= 0:
		return fmt.Errorf("--events %d: must be positive", f.Events)
	case f.Rounds <= 0:
		return fmt.Errorf("--rounds %d: must be positive", f.Rounds)
	case len(f.Parallelisms) == 0:
		return fmt.Errorf("--parallelism: name at least one parallelism")
	}
	for _, p := range f.Parallelisms {
		if p <= 0 {
			return fmt.Errorf("--parallelism %d: must be positive", p)
		}
	}
	return nil
}

// Run runs the benchmark and prints its table to stdout. It returns the error of Validate, or
// why a round failed (including outputs of the job and the loop that differ).
func (f Files) Run(ctx context.Context, stdout, _ io.Writer) error {
	if err := f.Validate(); err != nil {
		return err
	}
	events, rounds, ps := f.Events, f.Rounds, f.Parallelisms
	dir, clean, err := scratchDir(f.Dir, "runnel-bench-files-")
	if err != nil {
		return err
	}
	defer clean()
	if f.CPUProfile != "" {
		// One profile of the whole run: a profile started per round would write several
		// concatenated profiles into the file, which pprof refuses. Samples carry the label
		// side=loop or side=job (goroutines the job starts inherit it); select one side with
		// pprof's -tagfocus.
		prof, err := os.Create(f.CPUProfile)
		if err != nil {
			return err
		}
		defer prof.Close()
		if err := pprof.StartCPUProfile(prof); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	fmt.Fprintf(stdout, "Nexmark q1, JSON-lines file → JSON-lines file, %d bids, %d rounds (medians)\n\n", events, rounds)
	fmt.Fprintf(stdout, "%-12s %16s %16s %10s %12s %12s\n", "parallelism", "loop ev/cpu-s", "job ev/cpu-s", "job/loop", "loop wall-s", "job wall-s")
	for _, p := range ps {
		in := filepath.Join(dir, fmt.Sprintf("in-p%d", p))
		files, err := writeBidFiles(in, events, p)
		if err != nil {
			return err
		}
		var loopRate, jobRate, ratio, loopWall, jobWall []float64
		for r := range rounds {
			out := filepath.Join(dir, fmt.Sprintf("out-p%d-r%d", p, r))
			c0, w0 := cpuTime(), time.Now()
			var n int64
			pprof.Do(ctx, pprof.Labels("side", "loop"), func(context.Context) {
				n, err = q1Loop(files, filepath.Join(out, "loop"))
			})
			if err != nil {
				return fmt.Errorf("bench files: loop: %w", err)
			}
			c1, w1 := cpuTime(), time.Now()
			pprof.Do(ctx, pprof.Labels("side", "job"), func(ctx context.Context) {
				err = q1Job(ctx, in, filepath.Join(out, "job"), p)
			})
			c2, w2 := cpuTime(), time.Now()
			if err != nil {
				return fmt.Errorf("bench files: job: %w", err)
			}
			if n != int64(events) {
				return fmt.Errorf("bench files: the loop read %d events, want %d", n, events)
			}
			if err := sameLines(filepath.Join(out, "loop"), filepath.Join(out, "job")); err != nil {
				return fmt.Errorf("bench files: %w", err)
			}
			_ = os.RemoveAll(out)
			l := float64(n) / (c1 - c0).Seconds()
			j := float64(n) / (c2 - c1).Seconds()
			loopRate, jobRate, ratio = append(loopRate, l), append(jobRate, j), append(ratio, j/l)
			loopWall, jobWall = append(loopWall, w1.Sub(w0).Seconds()), append(jobWall, w2.Sub(w1).Seconds())
		}
		fmt.Fprintf(stdout, "%-12d %16.0f %16.0f %9.1f%% %12.2f %12.2f\n", p,
			median(loopRate), median(jobRate), 100*median(ratio), median(loopWall), median(jobWall))
		_ = os.RemoveAll(in)
	}
	fmt.Fprintf(stdout, "\nCPU is process user+system time (getrusage); the loop is one goroutine reading the same files in turn.\n")
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuTime returns the user and system CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0 // Linux and macOS never fail here
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeBidFiles writes n Nexmark bids as JSON lines into files files below dir, dealing them
// round robin, and returns the paths in order.
func writeBidFiles(dir string, n, files int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g, err := nexmark.NewGenerator(nexmark.Config{})
	if err != nil {
		return nil, err
	}
	enc, err := json.NewEncoder[nexmark.Bid]()
	if err != nil {
		return nil, err
	}
	paths := make([]string, files)
	fs := make([]*os.File, files)
	ws := make([]*bufio.Writer, files)
	for i := range files {
		paths[i] = filepath.Join(dir, fmt.Sprintf("bids-%d.jsonl", i))
		if fs[i], err = os.Create(paths[i]); err != nil {
			return nil, err
		}
		ws[i] = bufio.NewWriterSize(fs[i], 1<<20)
	}
	var buf []byte
	var bid nexmark.Bid
	for i, written := int64(0), 0; written < n; i++ {
		if g.Type(i) != nexmark.BidEvent {
			continue
		}
		g.FillBid(i, &bid)
		if buf, err = enc.Append(buf[:0], bid); err != nil {
			return nil, err
		}
		_, _ = ws[written%files].Write(buf)
		written++
	}
	for i := range files {
		if err := ws[i].Flush(); err != nil {
			return nil, err
		}
		if err := fs[i].Close(); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// q1Loop is the hand-written baseline: one goroutine reading the files in turn, line by line,
// decoding with format/json, applying q1, encoding with format/json and writing one buffered
// output file per input file into dir.
func q1Loop(in []string, dir string) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	dec, err := json.NewDecoder[nexmark.Bid]()
	if err != nil {
		return 0, err
	}
	enc, err := json.NewEncoder[nexmark.Bid]()
	if err != nil {
		return 0, err
	}
	var n int64
	var buf []byte
	for i, path := range in {
		f, err := os.Open(path)
		if err != nil {
			return n, err
		}
		o, err := os.Create(filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", i)))
		if err != nil {
			f.Close()
			return n, err
		}
		w := bufio.NewWriterSize(o, 64<<10)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		var line, offset int64
		for sc.Scan() {
			raw := sc.Bytes()
			line++
			bid, rerr := dec.Decode(raw, format.Position{Source: path, Line: line, Offset: offset})
			offset += int64(len(raw)) + 1
			if rerr != nil {
				f.Close()
				o.Close()
				return n, rerr
			}
			if buf, err = enc.Append(buf[:0], q1Bid(bid)); err != nil {
				f.Close()
				o.Close()
				return n, err
			}
			_, _ = w.Write(buf) // the error is kept by w and returned by Flush
			n++
		}
		f.Close()
		err = sc.Err()
		if err == nil {
			err = w.Flush()
		}
		if err == nil {
			err = o.Sync() // the job's sink fsyncs its parts: so does the loop
		}
		if cerr := o.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// q1Job is the same as a Runnel job at parallelism p: file source → Map(q1) → file sink.
func q1Job(ctx context.Context, in, out string, p int) error {
	src, err := file.NewSource(file.SourceConfig[nexmark.Bid]{Path: in, Format: file.JSONLines[nexmark.Bid]()})
	if err != nil {
		return err
	}
	// An Encoder is safe for concurrent use: the sink's writers share it.
	enc, err := json.NewEncoder[nexmark.Bid]()
	if err != nil {
		return err
	}
	sink, err := file.NewSink(file.SinkConfig[nexmark.Bid]{Dir: out, Encode: func(dst []byte, v nexmark.Bid) []byte {
		dst, err := enc.Append(dst, v)
		if err != nil {
			panic(err) // a Bid always encodes
		}
		return dst
	}})
	if err != nil {
		return err
	}
	env := stream.New("q1-files", stream.Config{Parallelism: p})
	stream.Map(stream.FromSource(env, src, eventtime.Strategy[nexmark.Bid]{}), q1Bid).SinkTo(sink)
	return env.Execute(ctx)
}

// sameLines checks that the files below a and b hold the same lines, in any order.
func sameLines(a, b string) error {
	la, err := readLines(a)
	if err != nil {
		return err
	}
	lb, err := readLines(b)
	if err != nil {
		return err
	}
	if !slices.Equal(la, lb) {
		return fmt.Errorf("the job wrote %d lines, the loop %d: outputs differ", len(lb), len(la))
	}
	return nil
}

func readLines(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Name()[0] == '.' {
			return fmt.Errorf("uncommitted file %s", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for l := range bytes.Lines(b) {
			out = append(out, string(l))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}
