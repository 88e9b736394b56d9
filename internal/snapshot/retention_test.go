package snapshot_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
)

// retentionFixture holds complete checkpoints 1, 2, 4, 5, 7 (incremental, sharing files), an
// incomplete checkpoint 3 (crashed), an incomplete checkpoint 8 (in progress, newer than every
// complete one), an orphan shared file z, and a savepoint.
func retentionFixture(t *testing.T) *checkpointtest.Mem {
	st := checkpointtest.NewMem()
	writeCheckpoint(t, st, sample(1, false, "a", "b"))
	writeCheckpoint(t, st, sample(2, false, "b", "c"))
	st.Put("chk-3/count-per-page-0", []byte("crashed"))
	writeCheckpoint(t, st, sample(4, false, "c", "d"))
	writeCheckpoint(t, st, sample(5, false, "d", "e"))
	writeCheckpoint(t, st, sample(7, false, "d", "f"))
	st.Put("chk-8/count-per-page-0", []byte("in progress"))
	st.Put("shared/z", []byte("uploaded by checkpoint 8, or by 3 before it crashed"))
	st.Put("savepoint-6-abc/_metadata", mustEncode(t, sample(6, true)))
	return st
}

func TestRetain(t *testing.T) {
	ctx := context.Background()
	st := retentionFixture(t)
	res, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{}) // Keep defaults to 3
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot.Retained{
		Kept:          []int64{4, 5, 7},
		Deleted:       []string{"chk-1", "chk-2", "chk-3"},
		DeletedShared: []string{"a", "b"}, // c is still used by 4; z is nobody's known file
	}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("Retain = %+v\nwant %+v", res, want)
	}
	assertFiles(t, st, []string{
		"chk-4/", "chk-5/", "chk-7/", "chk-8/count-per-page-0",
		"savepoint-6-abc/_metadata",
		"shared/c", "shared/d", "shared/e", "shared/f", "shared/z",
	})
	// Every retained checkpoint is whole.
	for _, id := range res.Kept {
		m, err := snapshot.ReadMetadata(ctx, st, snapshot.CheckpointDir(id))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.SharedFiles() {
			if _, err := st.Stat(ctx, snapshot.SharedFile(s)); err != nil {
				t.Errorf("checkpoint %d lost shared file %s: %v", id, s, err)
			}
		}
	}
	// Again: nothing more to do.
	if res, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{}); err != nil || len(res.Deleted)+len(res.DeletedShared) != 0 {
		t.Fatalf("second Retain = %+v, %v; want nothing deleted", res, err)
	}
	// Keep 1, collecting unreferenced files (the job is stopped): only 7 and its files stay.
	res, err = snapshot.Retain(ctx, st, snapshot.RetainOptions{Keep: 1, DeleteUnreferenced: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.DeletedShared, []string{"c", "e", "z"}) {
		t.Fatalf("DeletedShared = %q, want c, e, z", res.DeletedShared)
	}
	assertFiles(t, st, []string{"chk-7/", "chk-8/count-per-page-0", "savepoint-6-abc/_metadata", "shared/d", "shared/f"})
	if id, _, err := snapshot.Latest(ctx, st); err != nil || id != 7 {
		t.Fatalf("Latest = %d, %v", id, err)
	}
}

// TestRetainCrash fails a deletion part-way: the checkpoints Retain discards stop existing at
// once (metadata first), Latest is unaffected, and the next Retain finishes the work.
func TestRetainCrash(t *testing.T) {
	ctx := context.Background()
	st := retentionFixture(t)
	st.InjectFault(func(op, name string) error {
		if op == "delete" && name == "chk-1/count-per-page-1" {
			return errors.New("power cut")
		}
		return nil
	})
	if _, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{Keep: 3}); err == nil || !strings.Contains(err.Error(), "power cut") {
		t.Fatalf("Retain = %v, want the injected failure", err)
	}
	st.InjectFault(nil)
	if _, err := st.Stat(ctx, "chk-1/_metadata"); err == nil {
		t.Fatal("checkpoint 1 still exists after a failed Retain")
	}
	if id, _, err := snapshot.Latest(ctx, st); err != nil || id != 7 {
		t.Fatalf("Latest = %d, %v", id, err)
	}
	res, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Deleted, []string{"chk-1"}) {
		t.Fatalf("the second Retain deleted %q, want the rest of chk-1", res.Deleted)
	}
	assertFiles(t, st, []string{
		"chk-4/", "chk-5/", "chk-7/", "chk-8/count-per-page-0", "savepoint-6-abc/_metadata",
		"shared/c", "shared/d", "shared/e", "shared/f", "shared/z",
	})
}

// TestRetainNeedsReadableMetadata checks that Retain deletes nothing when it cannot read a
// retained checkpoint's metadata: it could not tell which shared files are in use.
func TestRetainNeedsReadableMetadata(t *testing.T) {
	ctx := context.Background()
	st := retentionFixture(t)
	st.Put("chk-5/_metadata", []byte("garbage"))
	before := st.Files()
	if _, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{}); !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), "retained checkpoint 5") {
		t.Fatalf("Retain = %v, want ErrCorrupt naming checkpoint 5", err)
	}
	if after := st.Files(); !reflect.DeepEqual(before, after) {
		t.Fatalf("Retain deleted files although it failed:\nbefore %q\nafter  %q", before, after)
	}
}

func TestRetainEdgeCases(t *testing.T) {
	ctx := context.Background()
	// Only checkpoints in progress: nothing is deleted.
	st := checkpointtest.NewMem()
	st.Put("chk-1/x", []byte("x"))
	st.Put("chk-2/x", []byte("x"))
	if res, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{}); err != nil || len(res.Deleted) != 0 {
		t.Fatalf("Retain = %+v, %v; want nothing deleted", res, err)
	}
	if _, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{Keep: -1}); err == nil {
		t.Fatal("Keep -1 accepted")
	}
	// Fewer complete checkpoints than Keep: all kept.
	writeCheckpoint(t, st, sample(3, false, "a"))
	res, err := snapshot.Retain(ctx, st, snapshot.RetainOptions{Keep: 5})
	if err != nil || !reflect.DeepEqual(res.Kept, []int64{3}) || !reflect.DeepEqual(res.Deleted, []string{"chk-1", "chk-2"}) {
		t.Fatalf("Retain = %+v, %v", res, err)
	}
}

// assertFiles checks the files of st against want, where an entry ending in "/" stands for
// every file below it (at least one).
func assertFiles(t *testing.T, st *checkpointtest.Mem, want []string) {
	t.Helper()
	files := st.Files()
	var got []string
	for _, f := range files {
		matched := false
		for _, w := range want {
			if strings.HasSuffix(w, "/") && strings.HasPrefix(f, w) {
				matched = true
				if len(got) == 0 || got[len(got)-1] != w {
					got = append(got, w)
				}
			}
		}
		if !matched {
			got = append(got, f)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("files:\n%q\nwant\n%q", got, want)
	}
}
