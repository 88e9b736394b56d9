package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	"github.com/runnel-io/runnel/internal/snapshot"
	"github.com/runnel-io/runnel/keygroup"
)

// sample returns metadata for snapshot id of a job with a source, a keyed operator at
// parallelism 2 over 8 key groups (incremental when shared is given) and a sink.
func sample(id int64, savepoint bool, shared ...string) *snapshot.Metadata {
	keyed := func(r keygroup.Range, file string, shared []string) *snapshot.KeyedState {
		k := &snapshot.KeyedState{Start: r.Start, End: r.End, File: file, Shared: shared}
		for g := r.Start; g < r.End; g++ {
			k.Groups = append(k.Groups, snapshot.KeyGroupSpan{Offset: int64(g-r.Start) * 10, Length: 10})
		}
		return k
	}
	var sh0, sh1 []string
	if len(shared) > 0 {
		sh0, sh1 = shared[:1], shared[1:]
	}
	return &snapshot.Metadata{
		Job:       "clickstream",
		ID:        id,
		Timestamp: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Second),
		Savepoint: savepoint,
		Operators: map[string]*snapshot.OperatorState{
			"source-clicks": {
				Parallelism: 1, MaxParallelism: 8,
				Global:   [][]byte{[]byte(`{"unassigned":["p3"]}`)},
				Subtasks: []snapshot.SubtaskState{{Operator: [][]byte{[]byte(`{"split":"p0","offset":42}`), []byte(`{"split":"p1","offset":7}`)}}},
			},
			"count-per-page": {
				Parallelism: 2, MaxParallelism: 8,
				Subtasks: []snapshot.SubtaskState{
					{Keyed: keyed(keygroup.RangeOf(0, 8, 2), "count-per-page-0", sh0)},
					{Keyed: keyed(keygroup.RangeOf(1, 8, 2), "count-per-page-1", sh1)},
				},
			},
			"sink-s3": {
				Parallelism: 1, MaxParallelism: 8,
				Subtasks: []snapshot.SubtaskState{{Committables: [][]byte{[]byte("upload-1"), []byte("upload-2")}}},
			},
		},
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := checkpointtest.NewMem()
	want := sample(7, false, "a.sst", "b.sst")
	if err := snapshot.WriteMetadata(ctx, st, snapshot.CheckpointDir(7), want); err != nil {
		t.Fatal(err)
	}
	got, err := snapshot.ReadMetadata(ctx, st, "chk-7")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
	if files := st.Files(); len(files) != 1 || files[0] != "chk-7/_metadata" {
		t.Fatalf("files %q, want just chk-7/_metadata", files)
	}
	data, _ := checkpoint.ReadFile(ctx, st, "chk-7/_metadata", 0)
	if !bytes.HasPrefix(data, []byte("runnel-checkpoint v1 crc32c=")) {
		t.Fatalf("header: %.40q", data)
	}
	if got := want.SharedFiles(); !reflect.DeepEqual(got, []string{"a.sst", "b.sst"}) {
		t.Fatalf("SharedFiles = %q", got)
	}
}

// TestMetadataVersions checks that a file of another format version fails with a message
// naming the version found and the one supported, while the current version reads itself.
func TestMetadataVersions(t *testing.T) {
	good, err := snapshot.EncodeMetadata(sample(3, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.DecodeMetadata(good); err != nil {
		t.Fatalf("the current version does not read itself: %v", err)
	}
	withVersion := func(v string) []byte {
		return bytes.Replace(good, []byte("runnel-checkpoint v1 "), []byte("runnel-checkpoint v"+v+" "), 1)
	}
	for _, tt := range []struct {
		version string
		want    []string
	}{
		{"2", []string{"found version 2", "reads version 1 only", "newer Runnel"}},
		{"17", []string{"found version 17", "reads version 1 only", "newer Runnel"}},
		{"0", []string{"found version 0", "reads version 1 only", "older Runnel"}},
	} {
		_, err := snapshot.DecodeMetadata(withVersion(tt.version))
		if !errors.Is(err, snapshot.ErrUnsupportedVersion) {
			t.Errorf("version %s: %v, want ErrUnsupportedVersion", tt.version, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("version %s: %q does not say %q", tt.version, err, w)
			}
		}
	}
	// Through ReadMetadata the error also names the file.
	st := checkpointtest.NewMem()
	st.Put("chk-3/_metadata", withVersion("2"))
	_, err = snapshot.ReadMetadata(context.Background(), st, "chk-3")
	if !errors.Is(err, snapshot.ErrUnsupportedVersion) || !strings.Contains(err.Error(), "chk-3/_metadata") {
		t.Errorf("ReadMetadata of version 2 = %v, want ErrUnsupportedVersion naming chk-3/_metadata", err)
	}
}

func TestMetadataCorrupt(t *testing.T) {
	good, err := snapshot.EncodeMetadata(sample(3, false))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-10] ^= 0x01
	resum := func(body string) []byte {
		return fmt.Appendf(nil, "runnel-checkpoint v1 crc32c=%08x\n%s", crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli)), body)
	}
	for name, data := range map[string][]byte{
		"empty":         nil,
		"no header":     []byte(`{"id": 1}`),
		"other magic":   []byte("PK\x03\x04 v1\n..."),
		"bad version":   []byte("runnel-checkpoint vX crc32c=00000000\n{}"),
		"no checksum":   []byte("runnel-checkpoint v1\n{}"),
		"bit flip":      flipped,
		"truncated":     good[:len(good)/2],
		"unknown field": resum(`{"id": 1, "operators": {}, "colour": "red"}`),
		"trailing data": resum(`{"id": 1, "operators": {}} {}`),
		"invalid":       resum(`{"id": 0, "operators": {}}`),
		"null operator": resum(`{"id": 1, "operators": {"x": null}}`),
	} {
		if _, err := snapshot.DecodeMetadata(data); !errors.Is(err, snapshot.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestMetadataValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		modify func(m *snapshot.Metadata)
		want   string
	}{
		{"ok", func(m *snapshot.Metadata) {}, ""},
		{"id", func(m *snapshot.Metadata) { m.ID = 0 }, "invalid snapshot id 0"},
		{"uid", func(m *snapshot.Metadata) { m.Operators[""] = m.Operators["sink-s3"] }, "empty UID"},
		{"parallelism", func(m *snapshot.Metadata) { m.Operators["sink-s3"].Parallelism = 0 }, `operator "sink-s3": parallelism 0`},
		{"max parallelism", func(m *snapshot.Metadata) { m.Operators["count-per-page"].MaxParallelism = 1 }, "max parallelism 1 not in"},
		{"subtasks", func(m *snapshot.Metadata) {
			m.Operators["sink-s3"].Parallelism = 2
			m.Operators["sink-s3"].MaxParallelism = 8
		}, "1 subtask states for parallelism 2"},
		{"range", func(m *snapshot.Metadata) { m.Operators["count-per-page"].Subtasks[1].Keyed.End = 9 }, "subtask 1: keyed state: key groups [4,9) not within [0,8)"},
		{"spans", func(m *snapshot.Metadata) {
			k := m.Operators["count-per-page"].Subtasks[0].Keyed
			k.Groups = k.Groups[1:]
		}, "3 key-group spans for key groups [0,4)"},
		{"overlap", func(m *snapshot.Metadata) {
			k := m.Operators["count-per-page"].Subtasks[1].Keyed
			k.Start, k.Groups = 3, append(k.Groups, k.Groups[0])
		}, "overlap"},
		{"escaping file", func(m *snapshot.Metadata) { m.Operators["count-per-page"].Subtasks[0].Keyed.File = "../chk-1/x" }, "invalid file name"},
		{"negative span", func(m *snapshot.Metadata) { m.Operators["count-per-page"].Subtasks[0].Keyed.Groups[2].Length = -1 }, "key group 2: invalid span"},
		{"spans without file", func(m *snapshot.Metadata) { m.Operators["count-per-page"].Subtasks[0].Keyed.File = "" }, "spans but no file"},
		{"shared in savepoint", func(m *snapshot.Metadata) {
			m.Savepoint = true
			m.Operators["count-per-page"].Subtasks[0].Keyed.Shared = []string{"a.sst"}
		}, "savepoints must be self-contained"},
	} {
		m := sample(5, false)
		tt.modify(m)
		err := m.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
		if tt.want != "" {
			if err := snapshot.WriteMetadata(context.Background(), checkpointtest.NewMem(), "chk-5", m); err == nil {
				t.Errorf("%s: WriteMetadata wrote invalid metadata", tt.name)
			}
		}
	}
}

func TestKeyGroupsOfOperator(t *testing.T) {
	op := sample(1, false).Operators["count-per-page"]
	// A restore at parallelism 3 over 8 key groups: subtask 1 owns [3,6), across both old
	// subtasks' files.
	r := keygroup.RangeOf(1, 8, 3)
	got := op.KeyGroups(r)
	var groups []string
	for _, b := range got {
		groups = append(groups, fmt.Sprintf("%d@%s+%d", b.Group, b.File, b.Span.Offset))
	}
	want := []string{"3@count-per-page-0+30", "4@count-per-page-1+0", "5@count-per-page-1+10"}
	if !reflect.DeepEqual(groups, want) {
		t.Fatalf("KeyGroups(%v) = %q, want %q", r, groups, want)
	}
	if got := op.Overlapping(r); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Fatalf("Overlapping(%v) = %v", r, got)
	}
	if got := op.Overlapping(keygroup.Range{Start: 5, End: 8}); !reflect.DeepEqual(got, []int{1}) {
		t.Fatalf("Overlapping([5,8)) = %v", got)
	}
}

// FuzzReadMetadata feeds ReadMetadata garbage and mutations of valid files: it must return a
// metadata that validates, or an error, and never panic. Run it with a bounded minimization,
// or the engine spends a minute shrinking each new (2 KB) input:
//
//	go test -run XXX -fuzz FuzzReadMetadata -fuzztime 1m -fuzzminimizetime 200x ./internal/checkpoint/
func FuzzReadMetadata(f *testing.F) {
	for _, m := range []*snapshot.Metadata{sample(1, false, "a", "b"), sample(2, true), {ID: 3}} {
		data, err := snapshot.EncodeMetadata(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("runnel-checkpoint v2 crc32c=00000000\n{}"))
	f.Add([]byte("runnel-checkpoint v1 crc32c=00000000\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st := checkpointtest.NewMem()
		st.Put("chk-1/_metadata", data)
		m, err := snapshot.ReadMetadata(context.Background(), st, "chk-1")
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("ReadMetadata: %v", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ReadMetadata returned invalid metadata: %v", err)
		}
		// Whatever decodes re-encodes to a file that decodes and re-encodes to itself.
		again, err := snapshot.EncodeMetadata(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := snapshot.DecodeMetadata(again)
		if err != nil {
			t.Fatalf("re-encoded metadata does not decode: %v", err)
		}
		if third, err := snapshot.EncodeMetadata(m2); err != nil || !bytes.Equal(again, third) {
			t.Fatalf("re-encoding is not stable: %v\n%s\n%s", err, again, third)
		}
		for _, op := range m.Operators {
			op.KeyGroups(keygroup.Range{Start: 0, End: op.MaxParallelism})
		}
	})
}
