package pebble_test

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/statebackend/pebble"
)

// memWatch records the peak heap in use and resident set size of the process.
type memWatch struct {
	heap, rss uint64
}

func (w *memWatch) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.heap = max(w.heap, ms.HeapInuse)
	w.rss = max(w.rss, rss())
}

// rss returns the resident set size from /proc (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// TestStateLargerThanMemory writes far more state than the backend's memory budget (8 MiB cache,
// two 4 MiB memtables) and reads a quarter of it back, in random order, checking that the heap and the resident set stay
// well below the data's size: the state lives on disk. 200 MiB normally; 32 MiB with -short,
// 16 MiB under the race detector.
func TestStateLargerThanMemory(t *testing.T) {
	size := 200 << 20
	switch {
	case raceEnabled:
		size = 16 << 20
	case testing.Short():
		size = 32 << 20
	}
	const valueSize = 1024
	n := size / valueSize
	r := keygroup.Range{Start: 0, End: 128}
	b, err := pebble.Open(pebble.Options{Dir: t.TempDir(), Range: r, CacheSize: 8 << 20, MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	runtime.GC()
	var before memWatch
	before.sample()

	keys := &state.Keys[int64]{First: r.Start, Count: r.Len()}
	hash := keygroup.HasherFor[int64]()
	v := state.NewValue[int64, []byte](b, keys, state.Descriptor{Name: "blob"})
	setKey := func(i int) {
		keys.Key = int64(i)
		keys.Group = keygroup.Of(hash(keys.Key), r.End)
	}
	rnd := rand.NewChaCha8([32]byte{1})
	val := make([]byte, valueSize)
	var w memWatch
	start := time.Now()
	for i := range n {
		_, _ = rnd.Read(val) // incompressible: the disk holds as much as was written
		binary.BigEndian.PutUint64(val, uint64(i))
		setKey(i)
		v.Update(val)
		if i%4096 == 0 {
			w.sample()
		}
	}
	wrote := time.Since(start)
	start = time.Now()
	for j := 0; j < n; j += 4 {
		i := (j * 7919) % n // a quarter of the keys, out of order
		setKey(i)
		got, ok := v.Value()
		if !ok || len(got) != valueSize || binary.BigEndian.Uint64(got) != uint64(i) {
			t.Fatalf("key %d: %d bytes, %v", i, len(got), ok)
		}
		if j%(4*4096) == 0 {
			w.sample()
		}
	}
	read := time.Since(start)
	w.sample()
	dirSize := du(t, b.Dir())
	t.Logf("%d MiB of values (%d keys): written in %v, a quarter read back in %v; %d MiB on disk",
		size>>20, n, wrote.Round(time.Millisecond), read.Round(time.Millisecond), dirSize>>20)
	t.Logf("peak heap in use %d MiB (%d MiB before), peak RSS %d MiB (%d MiB before)",
		w.heap>>20, before.heap>>20, w.rss>>20, before.rss>>20)
	if limit := uint64(48 << 20); w.heap > before.heap+limit {
		t.Errorf("heap in use grew by %d MiB, more than %d MiB", (w.heap-before.heap)>>20, limit>>20)
	}
	if size >= 200<<20 && w.rss > uint64(size)/2 {
		t.Errorf("peak RSS %d MiB is more than half the data (%d MiB)", w.rss>>20, size>>20)
	}
	if dirSize < int64(size)*9/10 {
		t.Errorf("the database holds %d MiB for %d MiB of incompressible values", dirSize>>20, size>>20)
	}
}

func du(t *testing.T, dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && !e.IsDir() {
			n += info.Size()
		}
	}
	return n
}
