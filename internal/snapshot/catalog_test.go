package snapshot_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
)

// writeCheckpoint writes a complete checkpoint: state files first, metadata last.
func writeCheckpoint(t *testing.T, st checkpoint.Storage, m *snapshot.Metadata) {
	t.Helper()
	ctx := context.Background()
	dir := snapshot.CheckpointDir(m.ID)
	if m.Savepoint {
		t.Fatal("writeCheckpoint of a savepoint")
	}
	for _, f := range []string{"count-per-page-0", "count-per-page-1"} {
		if err := checkpoint.WriteFile(ctx, st, dir+"/"+f, make([]byte, 40)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range m.SharedFiles() {
		if err := checkpoint.WriteFile(ctx, st, snapshot.SharedFile(s), []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := snapshot.WriteMetadata(ctx, st, dir, m); err != nil {
		t.Fatal(err)
	}
}

// TestLatestIgnoresIncomplete simulates a crash while checkpoint 3 was being written: its
// state files are there, its metadata is not (the write failed before Close). Latest returns
// checkpoint 2.
func TestLatestIgnoresIncomplete(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	if _, _, err := snapshot.Latest(ctx, st); !errors.Is(err, snapshot.ErrNoCheckpoint) {
		t.Fatalf("Latest of an empty storage = %v, want ErrNoCheckpoint", err)
	}
	writeCheckpoint(t, st, sample(1, false))
	writeCheckpoint(t, st, sample(2, false))
	// Checkpoint 3 crashes while writing its metadata.
	st.InjectFault(func(op, name string) error {
		if op == "close" && name == "chk-3/_metadata" {
			return errors.New("process killed")
		}
		return nil
	})
	m3 := sample(3, false)
	_ = checkpoint.WriteFile(ctx, st, "chk-3/count-per-page-0", []byte("state"))
	if err := snapshot.WriteMetadata(ctx, st, "chk-3", m3); err == nil {
		t.Fatal("the injected fault did not fail the metadata write")
	}
	st.InjectFault(nil)
	if _, err := st.Stat(ctx, "chk-3/_metadata"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("half-written metadata is visible: %v", err)
	}
	id, m, err := snapshot.Latest(ctx, st)
	if err != nil || id != 2 || m.ID != 2 {
		t.Fatalf("Latest = %d, %v, %v; want checkpoint 2", id, m, err)
	}
	// A directory that merely looks like a checkpoint counts for nothing either.
	st.Put("chk-9/_metadata.bak", []byte("x"))
	st.Put("chk-x/_metadata", []byte("x"))
	st.Put("chk-010/_metadata", []byte("x"))
	if id, _, err := snapshot.Latest(ctx, st); err != nil || id != 2 {
		t.Fatalf("Latest = %d, %v; want 2", id, err)
	}
}

// TestLatestCorrupt checks that a damaged newest checkpoint is an error, not a silent
// fall-back to an older one.
func TestLatestCorrupt(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	writeCheckpoint(t, st, sample(1, false))
	st.Put("chk-2/_metadata", []byte("runnel-checkpoint v1 crc32c=00000000\n{}"))
	if _, _, err := snapshot.Latest(ctx, st); !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), "latest checkpoint 2") {
		t.Fatalf("Latest = %v, want ErrCorrupt naming checkpoint 2", err)
	}
	// Metadata of another snapshot in chk-2 is corrupt too.
	data, _ := snapshot.EncodeMetadata(sample(5, false))
	st.Put("chk-2/_metadata", data)
	if _, _, err := snapshot.Latest(ctx, st); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Fatalf("Latest with chk-2 describing snapshot 5 = %v, want ErrCorrupt", err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	writeCheckpoint(t, st, sample(2, false))
	writeCheckpoint(t, st, sample(10, false))
	st.Put("chk-11/count-per-page-0", []byte("in progress"))
	st.Put("chk-3/_metadata", []byte("garbage"))
	st.Put("savepoint-4-abc123/_metadata", mustEncode(t, sample(4, true)))
	st.Put("chk-5/_metadata", mustEncode(t, sample(6, false)))              // copied from another checkpoint
	st.Put("savepoint-7-def456/_metadata", mustEncode(t, sample(7, false))) // a checkpoint's metadata in a savepoint directory
	st.Put("shared/x", []byte("x"))
	st.Put("notes.txt", []byte("ignored"))
	infos, err := snapshot.List(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range infos {
		s := in.Dir
		switch {
		case in.Complete && in.Err != nil:
			t.Errorf("%s: complete with error %v", in.Dir, in.Err)
		case in.Err != nil && errors.Is(in.Err, snapshot.ErrCorrupt):
			s += " corrupt"
		case in.Err != nil:
			s += " unreadable"
		case !in.Complete:
			s += " incomplete"
		}
		if !in.Timestamp.IsZero() {
			s += " " + in.Timestamp.Format("15:04:05")
		}
		got = append(got, s)
	}
	want := []string{"chk-2 12:00:02", "chk-3 corrupt", "savepoint-4-abc123 12:00:04", "chk-5 corrupt",
		"savepoint-7-def456 corrupt", "chk-10 12:00:10", "chk-11 incomplete"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("List =\n%q\nwant\n%q", got, want)
	}
	if infos[0].Files != 3 || infos[0].Size < 80 {
		t.Errorf("chk-2: %d files, %d bytes", infos[0].Files, infos[0].Size)
	}
}

func TestLayoutNames(t *testing.T) {
	for _, tt := range []struct {
		dir       string
		id        int64
		ok        bool
		savepoint bool
	}{
		{"chk-1", 1, true, false},
		{"chk-9223372036854775807", 9223372036854775807, true, false},
		{"chk-0", 0, false, false},
		{"chk-01", 0, false, false},
		{"chk--1", 0, false, false},
		{"chk-+1", 0, false, false},
		{"chk-", 0, false, false},
		{"chk-1a", 0, false, false},
		{"savepoint-7-1a2b3c", 7, true, true},
		{"some/where/savepoint-7-1a2b3c", 7, true, true},
		{"savepoint-7-", 0, false, true},
		{"savepoint-7-a/b", 0, false, true},
		{"savepoint-7-a.b", 0, false, true},
		{"savepoint-x-ab", 0, false, true},
	} {
		parse := snapshot.ParseCheckpointDir
		if tt.savepoint {
			parse = snapshot.ParseSavepointDir
		}
		id, ok := parse(tt.dir)
		if id != tt.id || ok != tt.ok {
			t.Errorf("parse(%q) = %d, %t; want %d, %t", tt.dir, id, ok, tt.id, tt.ok)
		}
	}
	sp := snapshot.NewSavepointDir(12)
	if id, ok := snapshot.ParseSavepointDir(sp); !ok || id != 12 || sp == snapshot.NewSavepointDir(12) {
		t.Errorf("NewSavepointDir(12) = %q (parsed %d, %t), or not random", sp, id, ok)
	}
}

func mustEncode(t *testing.T, m *snapshot.Metadata) []byte {
	t.Helper()
	data, err := snapshot.EncodeMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
