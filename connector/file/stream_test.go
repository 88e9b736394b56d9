package file_test

import (
	"fmt"
	"maps"
	"testing"

	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// TestDataStream writes through the DataStream API, which pre-commits and commits at end of
// input, and reads back exactly the input.
func TestDataStream(t *testing.T) {
	in := make([]int, 5000)
	for i := range in {
		in[i] = i % 1234 // duplicates in the input must stay duplicates
	}
	eachFS(t, func(t *testing.T, e *fsEnv) {
		for _, p := range []int{1, 3} {
			t.Run(fmt.Sprintf("parallelism=%d", p), func(t *testing.T) {
				dir := e.dir(t)
				s := e.newSink(t, dir, file.SinkConfig[int]{RollSize: 4096, Bucket: func(v int, _ int64) string {
					return fmt.Sprintf("mod=%d", v%4)
				}})
				env := stream.New("file-sink", stream.Config{Parallelism: p})
				stream.FromSlice(env, in, eventtime.Monotonous(func(v int) int64 { return int64(v) })).
					Rebalance().SinkTo(s).Name("FileSink")
				if err := env.Execute(t.Context()); err != nil {
					t.Fatal(err)
				}
				l := e.list(t, dir)
				if want := rowsOf(in...); !maps.Equal(l.rows, want) {
					t.Fatalf("read %d distinct rows, want %d", len(l.rows), len(want))
				}
				if len(l.hidden) != 0 {
					t.Fatalf("hidden files left: %v", l.hidden)
				}
				subtasks := map[string]bool{}
				for _, f := range l.files {
					var sub int
					var rest string
					if _, err := fmt.Sscanf(f[len("mod=0/"):], "part-%d-%s", &sub, &rest); err != nil {
						t.Fatalf("file %s: %v", f, err)
					}
					subtasks[fmt.Sprint(sub)] = true
				}
				if len(subtasks) != p {
					t.Fatalf("files written by subtasks %v, want %d subtasks", subtasks, p)
				}
			})
		}
	})
}
