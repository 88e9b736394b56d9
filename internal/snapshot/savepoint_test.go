package snapshot_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/keygroup"
)

// TestSavepointRelocation writes a savepoint, copies its directory to another place under
// another name, and restores from the copy: a savepoint references nothing outside its
// directory and only by relative names.
func TestSavepointRelocation(t *testing.T) {
	ctx := context.Background()
	origin := t.TempDir()
	st, err := checkpoint.Open(ctx, "file://"+origin)
	if err != nil {
		t.Fatal(err)
	}
	const maxP = 8
	dir := snapshot.NewSavepointDir(9)
	m := &snapshot.Metadata{
		Job: "clickstream", ID: 9, Savepoint: true, Timestamp: time.Unix(1700000000, 0).UTC(),
		Operators: map[string]*snapshot.OperatorState{
			"count-per-page": {Parallelism: 2, MaxParallelism: maxP},
		},
	}
	for i := range 2 {
		k := writeKeyGroups(t, st, dir, fmt.Sprintf("count-per-page-%d", i), keygroup.RangeOf(i, maxP, 2))
		m.Operators["count-per-page"].Subtasks = append(m.Operators["count-per-page"].Subtasks, snapshot.SubtaskState{Keyed: k})
	}
	if err := snapshot.WriteMetadata(ctx, st, dir, m); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(origin, dir, snapshot.MetadataFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(origin)) {
		t.Fatalf("the metadata names its location %s:\n%s", origin, raw)
	}

	// Copy the savepoint directory elsewhere, renamed, and drop the original.
	elsewhere := filepath.Join(t.TempDir(), "archive")
	moved := "savepoint-9-copied"
	if err := os.CopyFS(filepath.Join(elsewhere, moved), os.DirFS(filepath.Join(origin, dir))); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(origin); err != nil {
		t.Fatal(err)
	}

	st2, err := checkpoint.Open(ctx, elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	got, err := snapshot.ReadMetadata(ctx, st2, moved)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 9 || !got.Savepoint {
		t.Fatalf("read back snapshot %d (savepoint %t)", got.ID, got.Savepoint)
	}
	// Restore at parallelism 3: every key group reads back.
	n := 0
	for i := range 3 {
		for _, b := range got.Operators["count-per-page"].KeyGroups(keygroup.RangeOf(i, maxP, 3)) {
			data, err := snapshot.ReadKeyGroup(ctx, st2, moved, b)
			if err != nil {
				t.Fatal(err)
			}
			want := blob(b.Group)
			if b.Group%5 == 4 {
				want = nil
			}
			if !bytes.Equal(data, want) {
				t.Fatalf("key group %d: %q, want %q", b.Group, data, want)
			}
			n++
		}
	}
	if n != maxP {
		t.Fatalf("restored %d key groups, want %d", n, maxP)
	}
	infos, err := snapshot.List(ctx, st2)
	if err != nil || len(infos) != 1 || !infos[0].Savepoint || infos[0].ID != 9 || !infos[0].Complete {
		t.Fatalf("List of the archive = %+v, %v", infos, err)
	}
}
