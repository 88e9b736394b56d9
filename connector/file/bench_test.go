package file_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/nexmark"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/json"
	"github.com/runnel-io/runnel/stream"
)

// q1 is Nexmark query 1 on a bid: the price in euros, 0.908 × the price in dollars (in cents,
// truncated).
func q1(b nexmark.Bid) nexmark.Bid {
	b.Price = b.Price * 908 / 1000
	return b
}

// writeBids writes n Nexmark bids as JSON lines to path, as format/json encodes them.
func writeBids(b testing.TB, path string, n int) {
	g, err := nexmark.NewGenerator(nexmark.Config{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := json.NewEncoder[nexmark.Bid]()
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf []byte
	var bid nexmark.Bid
	for i, written := int64(0), 0; written < n; i++ {
		if g.Type(i) != nexmark.BidEvent {
			continue
		}
		g.FillBid(i, &bid)
		if buf, err = enc.Append(buf[:0], bid); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(buf)
		written++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// q1Loop is the hand-written baseline: one goroutine reading the file line by line, decoding
// with format/json, applying q1, encoding with format/json and writing to a buffered file.
func q1Loop(in, out string) (int64, error) {
	dec, err := json.NewDecoder[nexmark.Bid]()
	if err != nil {
		return 0, err
	}
	enc, err := json.NewEncoder[nexmark.Bid]()
	if err != nil {
		return 0, err
	}
	f, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(o, 64<<10)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var n, offset int64
	var buf []byte
	for sc.Scan() {
		line := sc.Bytes()
		bid, rerr := dec.Decode(line, format.Position{Source: in, Line: n + 1, Offset: offset})
		offset += int64(len(line)) + 1
		if rerr != nil {
			return n, rerr
		}
		if buf, err = enc.Append(buf[:0], q1(bid)); err != nil {
			return n, err
		}
		if _, err := w.Write(buf); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, o.Close()
}

// q1Job is the same as a Runnel job: file source → Map(q1) → file sink, parallelism 1.
func q1Job(b testing.TB, in, out string) error {
	enc, err := json.NewEncoder[nexmark.Bid]()
	if err != nil {
		return err
	}
	src, err := file.NewSource(in, file.JSONLines[nexmark.Bid]())
	if err != nil {
		return err
	}
	sink, err := file.NewSink(out, func(dst []byte, v nexmark.Bid) []byte {
		dst, err := enc.Append(dst, v)
		if err != nil {
			panic(err) // a Bid always encodes
		}
		return dst
	}, file.Delimiter(""))
	if err != nil {
		return err
	}
	env := stream.New("q1-files", stream.Config{Parallelism: 1})
	stream.Map(stream.FromSource(env, src, eventtime.Strategy[nexmark.Bid]{}), q1).SinkTo(sink)
	return env.Execute(b.Context())
}

// cpu returns the user and system CPU time the process used so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQ1Files compares, in one run, Nexmark q1 over a JSON-lines file of bids as a Runnel
// job (file source → map → exactly-once file sink) and as a hand-written single-goroutine loop
// with the same JSON library, in events per CPU-second (getrusage around each run, so every
// goroutine the job starts counts). Run it with
//
//	go test -run '^$' -bench Q1Files -benchtime 3x ./connector/file/
func BenchmarkQ1Files(b *testing.B) {
	const n = 500_000
	dir := b.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		b.Fatal(err)
	}
	writeBids(b, filepath.Join(in, "bids.jsonl"), n)
	var loopCPU, jobCPU, loopWall, jobWall time.Duration
	var runs int
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprint("run", runs))
		if err := os.Mkdir(out, 0o755); err != nil {
			b.Fatal(err)
		}
		c0, w0 := cpu(), time.Now()
		got, err := q1Loop(filepath.Join(in, "bids.jsonl"), filepath.Join(out, "loop.jsonl"))
		if err != nil || got != n {
			b.Fatalf("loop: %d events, %v", got, err)
		}
		c1, w1 := cpu(), time.Now()
		if err := q1Job(b, in, filepath.Join(out, "job")); err != nil {
			b.Fatal(err)
		}
		c2, w2 := cpu(), time.Now()
		loopWall += w1.Sub(w0)
		jobWall += w2.Sub(w1)
		loopCPU += c1 - c0
		jobCPU += c2 - c1
		runs++
		if runs == 1 {
			checkSameOutput(b, filepath.Join(out, "loop.jsonl"), filepath.Join(out, "job"))
		}
		_ = os.RemoveAll(out)
	}
	loop := float64(n*runs) / loopCPU.Seconds()
	job := float64(n*runs) / jobCPU.Seconds()
	b.ReportMetric(loop, "loop-events/cpu-s")
	b.ReportMetric(job, "job-events/cpu-s")
	b.ReportMetric(100*job/loop, "job/loop-%")
	b.ReportMetric(loopWall.Seconds()/float64(runs), "loop-wall-s")
	b.ReportMetric(jobWall.Seconds()/float64(runs), "job-wall-s")
}

// checkSameOutput checks that the job committed exactly the loop's lines.
func checkSameOutput(b testing.TB, loopFile, jobDir string) {
	want, err := os.ReadFile(loopFile)
	if err != nil {
		b.Fatal(err)
	}
	matches, err := filepath.Glob(filepath.Join(jobDir, "part-*"))
	if err != nil || len(matches) != 1 {
		b.Fatalf("job output files %v, %v; want one part", matches, err)
	}
	got, err := os.ReadFile(matches[0])
	if err != nil {
		b.Fatal(err)
	}
	if string(got) != string(want) {
		b.Fatalf("job wrote %d bytes, loop %d: outputs differ", len(got), len(want))
	}
}
