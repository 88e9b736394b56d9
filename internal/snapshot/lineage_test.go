package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
)

func sampleLineage() *snapshot.Lineage {
	return &snapshot.Lineage{
		Job: "clicks", Run: "3fa2c0d1e4b5", HighestID: 12,
		Latest:  &snapshot.SnapshotRef{ID: 9, Savepoint: true, Location: "/sp/savepoint-9-0a1b2c", Timestamp: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		Updated: time.Date(2026, 12, 6, 12, 0, 1, 0, time.UTC),
	}
}

func TestLineageRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	if _, err := snapshot.ReadLineage(ctx, st); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadLineage of a new location = %v, want fs.ErrNotExist", err)
	}
	for _, l := range []*snapshot.Lineage{sampleLineage(), {Job: "fresh", Run: "r", HighestID: 40}} {
		if err := snapshot.WriteLineage(ctx, st, l); err != nil {
			t.Fatal(err)
		}
		got, err := snapshot.ReadLineage(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := snapshot.EncodeLineage(l)
		b, _ := snapshot.EncodeLineage(got)
		if !bytes.Equal(a, b) {
			t.Fatalf("read back\n%s\nwant\n%s", b, a)
		}
	}
}

func TestLineageRefusesBadFiles(t *testing.T) {
	good, err := snapshot.EncodeLineage(sampleLineage())
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := bytes.Cut(good, []byte("\n"))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, snapshot.ErrCorrupt},
		{"metadata file", []byte("runnel-checkpoint v1 crc32c=00000000\n{}"), snapshot.ErrCorrupt},
		{"newer version", append([]byte("runnel-lineage v2 crc32c=00000000\n"), body...), snapshot.ErrUnsupportedVersion},
		{"flipped byte", append(append(append([]byte{}, header...), '\n'), bytes.Replace(body, []byte("12"), []byte("13"), 1)...), snapshot.ErrCorrupt},
		{"truncated", good[:len(good)-5], snapshot.ErrCorrupt},
	} {
		if _, err := snapshot.DecodeLineage(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, bad := range []*snapshot.Lineage{
		{HighestID: -1},
		{HighestID: 3, Latest: &snapshot.SnapshotRef{ID: 4, Location: "chk-4"}},
		{HighestID: 3, Latest: &snapshot.SnapshotRef{ID: 0, Location: "chk-0"}},
		{HighestID: 3, Latest: &snapshot.SnapshotRef{ID: 3}},
	} {
		if _, err := snapshot.EncodeLineage(bad); err == nil {
			t.Errorf("EncodeLineage(%+v) succeeded", bad)
		}
	}
}

func TestHighestID(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	if id, err := snapshot.HighestID(ctx, st, nil); err != nil || id != 0 {
		t.Fatalf("HighestID of nothing = %d, %v", id, err)
	}
	st.Put("chk-7/_metadata", []byte("x"))
	st.Put("chk-31/op-0", []byte("x")) // incomplete: its ID was used all the same
	st.Put("shared/chk-99-x.sst", []byte("x"))
	if id, _ := snapshot.HighestID(ctx, st, &snapshot.Lineage{HighestID: 12}); id != 31 {
		t.Errorf("HighestID = %d, want 31 (the incomplete chk-31)", id)
	}
	if id, _ := snapshot.HighestID(ctx, st, &snapshot.Lineage{HighestID: 40}); id != 40 {
		t.Errorf("HighestID = %d, want 40 (the lineage's)", id)
	}
}

func TestSnapshotLocation(t *testing.T) {
	dir := t.TempDir()
	l, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := checkpoint.Location(l, "chk-3"), filepath.Join(dir, "chk-3"); got != want {
		t.Errorf("local: %s, want %s", got, want)
	}
	ref := &snapshot.SnapshotRef{ID: 3, Location: "chk-3"}
	if !ref.Local() {
		t.Error("chk-3 is not local")
	}
	ref.Location = filepath.Join(dir, "chk-3")
	if ref.Local() {
		t.Errorf("%s is local", ref.Location)
	}
	if !strings.Contains(ref.String(), "checkpoint 3") {
		t.Errorf("String = %q", ref)
	}
}

func FuzzDecodeLineage(f *testing.F) {
	good, _ := snapshot.EncodeLineage(sampleLineage())
	f.Add(good)
	f.Add([]byte("runnel-lineage v1 crc32c=00000000\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := snapshot.DecodeLineage(data)
		if err != nil {
			return
		}
		if _, err := snapshot.EncodeLineage(l); err != nil {
			t.Fatalf("a decoded lineage does not encode: %v", err)
		}
	})
}
