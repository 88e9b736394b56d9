// Command testapp is the application the service's tests package as a bootstrap ZIP: numbers
// from a generator, a running count and sum per key, written exactly once as lines into the
// directory its "job" property group's "output" names. Properties: records (default 20000),
// rate per second (default 4000; 0: as fast as it goes), keys (default 12), slow (microseconds
// the running sum sleeps per record, to make the job backpressured; default 0), fail ("start":
// the build fails, so the process exits at once).
package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

func main() {
	app.Main("testapp", func(env *stream.Env) error {
		props, err := app.Properties()
		if err != nil {
			return err
		}
		job := props["job"]
		if job["fail"] == "start" {
			return errors.New("testapp: told to fail at start (property fail=start)")
		}
		num := func(k string, def int64) int64 {
			if v, err := strconv.ParseInt(job[k], 10, 64); err == nil {
				return v
			}
			return def
		}
		records, rate, keys, slow := num("records", 20000), num("rate", 4000), num("keys", 12), num("slow", 0)
		if job["output"] == "" {
			return errors.New("testapp: the property group job has no output")
		}
		src, err := datagen.New(func(n int64) int64 { return n }, datagen.Config{Count: records, Rate: float64(rate), BatchSize: 16})
		if err != nil {
			return err
		}
		type acc struct{ Key, Count, Sum int64 }
		nums := stream.FromSource[int64](env, src, eventtime.Monotonous(func(n int64) int64 { return n })).Uid("numbers")
		sums := stream.Reduce(stream.KeyBy(stream.Map(nums, func(n int64) acc { return acc{Key: n % keys, Count: 1, Sum: n} }).Uid("one"),
			func(a acc) int64 { return a.Key }), func(a, b acc) acc {
			if slow > 0 {
				time.Sleep(time.Duration(slow) * time.Microsecond)
			}
			return acc{Key: a.Key, Count: a.Count + b.Count, Sum: a.Sum + b.Sum}
		}).Uid("sums")
		sink, err := file.NewSink(file.SinkConfig[acc]{Dir: job["output"], Encode: func(dst []byte, a acc) []byte {
			return fmt.Appendf(dst, "%d %d %d\n", a.Key, a.Count, a.Sum)
		}})
		if err != nil {
			return err
		}
		sums.SinkTo(sink).Uid("sink")
		return nil
	})
}
