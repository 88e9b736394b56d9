package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/keygroup"
)

func blob(g int) []byte { return []byte(strings.Repeat(fmt.Sprintf("group-%d;", g), g%4)) }

// writeKeyGroups writes the key groups of r (skipping every fifth) into dir/file of st.
func writeKeyGroups(t *testing.T, st checkpoint.Storage, dir, file string, r keygroup.Range) *snapshot.KeyedState {
	t.Helper()
	ctx := context.Background()
	f, err := st.Create(ctx, dir+"/"+file)
	if err != nil {
		t.Fatal(err)
	}
	w := snapshot.NewKeyGroupWriter(f, file, r)
	for g := r.Start; g < r.End; g++ {
		if g%5 == 4 {
			continue // left out: an empty blob
		}
		if err := w.WriteGroup(g, blob(g)); err != nil {
			t.Fatal(err)
		}
	}
	k, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyGroupFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, st := range map[string]checkpoint.Storage{"local": newLocal(t), "mem (no RangeOpener)": checkpointtest.NewMem()} {
		t.Run(name, func(t *testing.T) {
			const maxP = 16
			// Written at parallelism 2, ...
			op := &snapshot.OperatorState{Parallelism: 2, MaxParallelism: maxP}
			for i := range 2 {
				r := keygroup.RangeOf(i, maxP, 2)
				k := writeKeyGroups(t, st, "chk-1", fmt.Sprintf("op-%d", i), r)
				if k.Start != r.Start || k.End != r.End || len(k.Groups) != r.Len() {
					t.Fatalf("KeyedState %+v for %v", k, r)
				}
				op.Subtasks = append(op.Subtasks, snapshot.SubtaskState{Keyed: k})
			}
			// ... restored at parallelism 3: each subtask reads exactly its groups.
			seen := 0
			for i := range 3 {
				r := keygroup.RangeOf(i, maxP, 3)
				blobs := op.KeyGroups(r)
				if len(blobs) != r.Len() {
					t.Fatalf("subtask %d of 3: %d blobs for %v", i, len(blobs), r)
				}
				for _, b := range blobs {
					got, err := snapshot.ReadKeyGroup(ctx, st, "chk-1", b)
					if err != nil {
						t.Fatal(err)
					}
					want := blob(b.Group)
					if b.Group%5 == 4 {
						want = nil
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("key group %d: read %q, want %q", b.Group, got, want)
					}
					seen++
				}
			}
			if seen != maxP {
				t.Fatalf("read %d key groups, want %d", seen, maxP)
			}
		})
	}
}

func TestKeyGroupFileDamage(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	k := writeKeyGroups(t, st, "chk-1", "op-0", keygroup.Range{Start: 0, End: 4})
	op := &snapshot.OperatorState{Parallelism: 1, MaxParallelism: 4, Subtasks: []snapshot.SubtaskState{{Keyed: k}}}
	b := op.KeyGroups(keygroup.Range{Start: 3, End: 4})[0]

	data, _ := checkpoint.ReadFile(ctx, st, "chk-1/op-0", 0)
	bad := bytes.Clone(data)
	bad[b.Span.Offset] ^= 0xff
	st.Put("chk-1/op-0", bad)
	if _, err := snapshot.ReadKeyGroup(ctx, st, "chk-1", b); !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), "key group 3") {
		t.Errorf("flipped byte: %v, want ErrCorrupt naming key group 3", err)
	}
	st.Put("chk-1/op-0", data[:len(data)-1])
	if _, err := snapshot.ReadKeyGroup(ctx, st, "chk-1", b); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Errorf("truncated file: %v, want ErrCorrupt", err)
	}
}

func TestKeyGroupWriterOrder(t *testing.T) {
	var buf bytes.Buffer
	w := snapshot.NewKeyGroupWriter(&buf, "f", keygroup.Range{Start: 4, End: 8})
	if err := w.WriteGroup(3, nil); err == nil {
		t.Error("a key group below the range was accepted")
	}
	if err := w.WriteGroup(5, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteGroup(5, []byte("y")); err == nil {
		t.Error("a key group written twice was accepted")
	}
	if err := w.WriteGroup(8, nil); err == nil {
		t.Error("a key group past the range was accepted")
	}
	k, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Groups) != 4 || k.Groups[1].Length != 1 || k.Groups[3].Length != 0 || w.Size() != 1 {
		t.Fatalf("spans %+v, size %d", k.Groups, w.Size())
	}
}

// TestKeyGroupWriterError checks that a write error sticks and leaves no KeyedState.
func TestKeyGroupWriterError(t *testing.T) {
	w := snapshot.NewKeyGroupWriter(failWriter{}, "f", keygroup.Range{Start: 0, End: 2})
	if err := w.WriteGroup(0, []byte("x")); err == nil {
		t.Fatal("write error not reported")
	}
	if err := w.WriteGroup(1, []byte("x")); err == nil {
		t.Fatal("write error forgotten")
	}
	if _, err := w.Finish(); err == nil {
		t.Fatal("Finish after a write error succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
