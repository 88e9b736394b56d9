package checkpoint_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/internal/checkpoint/checkpointtest"
)

func sampleLineage() *checkpoint.Lineage {
	return &checkpoint.Lineage{
		Job: "clicks", Run: "3fa2c0d1e4b5", HighestID: 12,
		Latest:  &checkpoint.SnapshotRef{ID: 9, Savepoint: true, Location: "/sp/savepoint-9-0a1b2c", Timestamp: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		Updated: time.Date(2026, 12, 6, 12, 0, 1, 0, time.UTC),
	}
}

func TestLineageRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	if _, err := checkpoint.ReadLineage(ctx, st); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadLineage of a new location = %v, want fs.ErrNotExist", err)
	}
	for _, l := range []*checkpoint.Lineage{sampleLineage(), {Job: "fresh", Run: "r", HighestID: 40}} {
		if err := checkpoint.WriteLineage(ctx, st, l); err != nil {
			t.Fatal(err)
		}
		got, err := checkpoint.ReadLineage(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := checkpoint.EncodeLineage(l)
		b, _ := checkpoint.EncodeLineage(got)
		if !bytes.Equal(a, b) {
			t.Fatalf("read back\n%s\nwant\n%s", b, a)
		}
	}
}

func TestLineageRefusesBadFiles(t *testing.T) {
	good, err := checkpoint.EncodeLineage(sampleLineage())
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := bytes.Cut(good, []byte("\n"))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, checkpoint.ErrCorrupt},
		{"metadata file", []byte("runnel-checkpoint v1 crc32c=00000000\n{}"), checkpoint.ErrCorrupt},
		{"newer version", append([]byte("runnel-lineage v2 crc32c=00000000\n"), body...), checkpoint.ErrUnsupportedVersion},
		{"flipped byte", append(append(append([]byte{}, header...), '\n'), bytes.Replace(body, []byte("12"), []byte("13"), 1)...), checkpoint.ErrCorrupt},
		{"truncated", good[:len(good)-5], checkpoint.ErrCorrupt},
	} {
		if _, err := checkpoint.DecodeLineage(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, bad := range []*checkpoint.Lineage{
		{HighestID: -1},
		{HighestID: 3, Latest: &checkpoint.SnapshotRef{ID: 4, Location: "chk-4"}},
		{HighestID: 3, Latest: &checkpoint.SnapshotRef{ID: 0, Location: "chk-0"}},
		{HighestID: 3, Latest: &checkpoint.SnapshotRef{ID: 3}},
	} {
		if _, err := checkpoint.EncodeLineage(bad); err == nil {
			t.Errorf("EncodeLineage(%+v) succeeded", bad)
		}
	}
}

func TestHighestID(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	if id, err := checkpoint.HighestID(ctx, st, nil); err != nil || id != 0 {
		t.Fatalf("HighestID of nothing = %d, %v", id, err)
	}
	st.Put("chk-7/_metadata", []byte("x"))
	st.Put("chk-31/op-0", []byte("x")) // incomplete: its ID was used all the same
	st.Put("shared/chk-99-x.sst", []byte("x"))
	if id, _ := checkpoint.HighestID(ctx, st, &checkpoint.Lineage{HighestID: 12}); id != 31 {
		t.Errorf("HighestID = %d, want 31 (the incomplete chk-31)", id)
	}
	if id, _ := checkpoint.HighestID(ctx, st, &checkpoint.Lineage{HighestID: 40}); id != 40 {
		t.Errorf("HighestID = %d, want 40 (the lineage's)", id)
	}
}

func TestSnapshotLocation(t *testing.T) {
	dir := t.TempDir()
	l, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := checkpoint.SnapshotLocation(l, "chk-3"), filepath.Join(dir, "chk-3"); got != want {
		t.Errorf("local: %s, want %s", got, want)
	}
	ref := &checkpoint.SnapshotRef{ID: 3, Location: "chk-3"}
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
	good, _ := checkpoint.EncodeLineage(sampleLineage())
	f.Add(good)
	f.Add([]byte("runnel-lineage v1 crc32c=00000000\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := checkpoint.DecodeLineage(data)
		if err != nil {
			return
		}
		if _, err := checkpoint.EncodeLineage(l); err != nil {
			t.Fatalf("a decoded lineage does not encode: %v", err)
		}
	})
}
