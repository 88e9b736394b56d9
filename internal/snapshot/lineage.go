package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
)

// The lineage of a checkpoint location (see docs/CHECKPOINTS.md, "Lineage"). Every job run on
// a location continues one lineage: the chain of snapshots that its committed output follows
// from. The location records, in LineageFile, the snapshot the lineage would resume from and
// the highest snapshot ID ever used there, so that
//
//   - "restore latest" resumes the run that last used the location, from the newest snapshot
//     whose side effects may have been committed, even when that is a savepoint elsewhere or
//     the lineage restarted from an older snapshot (a rollback) or from nothing;
//   - snapshot IDs never go back or repeat on the location, so retention, which keeps the
//     highest IDs, keeps the running lineage's checkpoints.
const (
	// LineageFile is the name, at the root of a checkpoint location, of the file that records
	// the location's lineage.
	LineageFile = "_lineage"
	// LineageVersion is the version of the lineage file format this build reads and writes.
	LineageVersion = 1
	lineageMagic   = "runnel-lineage"
	maxLineageSize = 1 << 20
)

// Lineage is the record a checkpoint location keeps of its lineage, written by the job running
// on it (under the location's lease): when a run starts, and when a checkpoint or a savepoint
// completes, before any sink commits the snapshot's output.
type Lineage struct {
	// Job is the name of the job that wrote the record.
	Job string `json:"job"`
	// Run identifies the run that wrote the record: every start of a job (not a restart within
	// one) is a new run with a new ID.
	Run string `json:"run"`
	// Latest is the snapshot the lineage resumes from: the newest completed checkpoint or
	// stop-with-savepoint of the running lineage, or the snapshot the running lineage started
	// from until it completes one. Nil means the lineage started fresh and has not completed a
	// checkpoint since: resuming it starts fresh too.
	Latest *SnapshotRef `json:"latest,omitempty"`
	// HighestID is the highest ID of any snapshot taken on the location or restored onto it;
	// new snapshots get higher IDs.
	HighestID int64 `json:"highestId"`
	// Updated is when the record was written.
	Updated time.Time `json:"updated"`
}

// SnapshotRef names a snapshot from a checkpoint location.
type SnapshotRef struct {
	// ID is the snapshot's ID.
	ID int64 `json:"id"`
	// Savepoint says whether the snapshot is a savepoint.
	Savepoint bool `json:"savepoint"`
	// Location is where the snapshot is: a directory name below the location itself
	// ("chk-12"), or the absolute path or storage URL of a snapshot directory elsewhere
	// ("/sp/savepoint-7-3fa2c0d1e4b5", "s3://b/sp/savepoint-7-3fa2c0d1e4b5").
	Location string `json:"location"`
	// Timestamp is the snapshot's trigger time.
	Timestamp time.Time `json:"timestamp"`
}

// Local reports whether the snapshot is a directory below the location that names it.
func (r *SnapshotRef) Local() bool {
	return checkpoint.CheckName(r.Location) == nil && !strings.Contains(r.Location, "/")
}

func (r *SnapshotRef) String() string {
	kind := "checkpoint"
	if r.Savepoint {
		kind = "savepoint"
	}
	return fmt.Sprintf("%s %d at %s", kind, r.ID, r.Location)
}

// Validate reports a Lineage that cannot be right.
func (l *Lineage) Validate() error {
	if l.HighestID < 0 {
		return fmt.Errorf("checkpoint: lineage: negative highest ID %d", l.HighestID)
	}
	if r := l.Latest; r != nil {
		if r.ID <= 0 {
			return fmt.Errorf("checkpoint: lineage: latest snapshot has ID %d", r.ID)
		}
		if r.ID > l.HighestID {
			return fmt.Errorf("checkpoint: lineage: latest snapshot %d above the highest ID %d", r.ID, l.HighestID)
		}
		if r.Location == "" {
			return errors.New("checkpoint: lineage: latest snapshot has no location")
		}
	}
	return nil
}

// EncodeLineage returns l in the lineage file format: a header line
// "runnel-lineage v1 crc32c=<hex>" and l as JSON, as the metadata format does.
func EncodeLineage(l *Lineage) ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("checkpoint: encoding lineage: %w", err)
	}
	body = append(body, '\n')
	header := fmt.Sprintf("%s v%d crc32c=%08x\n", lineageMagic, LineageVersion, crc32.Checksum(body, castagnoli))
	return append([]byte(header), body...), nil
}

// DecodeLineage parses a lineage file. Errors wrap ErrUnsupportedVersion for another version
// and ErrCorrupt for anything else that is not a valid lineage file; it never panics.
func DecodeLineage(data []byte) (*Lineage, error) {
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 || nl > 256 {
		return nil, fmt.Errorf("%w: no lineage header line", ErrCorrupt)
	}
	fields := strings.Fields(string(data[:nl]))
	body := data[nl+1:]
	if len(fields) != 3 || fields[0] != lineageMagic || !strings.HasPrefix(fields[1], "v") {
		return nil, fmt.Errorf("%w: not a Runnel lineage file (header %.40q)", ErrCorrupt, data[:nl])
	}
	version, err := strconv.Atoi(fields[1][1:])
	if err != nil {
		return nil, fmt.Errorf("%w: bad lineage format version %q", ErrCorrupt, fields[1])
	}
	if version != LineageVersion {
		return nil, fmt.Errorf("%w: lineage file version %d, this build reads version %d", ErrUnsupportedVersion, version, LineageVersion)
	}
	sum, ok := strings.CutPrefix(fields[2], "crc32c=")
	want, err := strconv.ParseUint(sum, 16, 32)
	if !ok || err != nil {
		return nil, fmt.Errorf("%w: bad lineage checksum field %q", ErrCorrupt, fields[2])
	}
	if got := crc32.Checksum(body, castagnoli); got != uint32(want) {
		return nil, fmt.Errorf("%w: lineage checksum mismatch (header %08x, body %08x)", ErrCorrupt, want, got)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var l Lineage
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: lineage body: %w", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: lineage body: data after the record", ErrCorrupt)
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &l, nil
}

// ReadLineage reads the lineage record of the location st. A location without one (new, or
// written by a build before lineages) gives an error wrapping fs.ErrNotExist.
func ReadLineage(ctx context.Context, st checkpoint.Storage) (*Lineage, error) {
	data, err := checkpoint.ReadFile(ctx, st, LineageFile, maxLineageSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("checkpoint: reading the lineage of %s: %w", checkpoint.Location(st, ""), err)
	}
	l, err := DecodeLineage(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: reading %s of %s: %w", LineageFile, checkpoint.Location(st, ""), err)
	}
	return l, nil
}

// WriteLineage replaces the lineage record of the location st, atomically.
func WriteLineage(ctx context.Context, st checkpoint.Storage, l *Lineage) error {
	data, err := EncodeLineage(l)
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFile(ctx, st, LineageFile, data); err != nil {
		return fmt.Errorf("checkpoint: writing the lineage of %s: %w", checkpoint.Location(st, ""), err)
	}
	return nil
}

// HighestID returns the highest snapshot ID the location st has seen: in its lineage record l
// (may be nil), and in the names of its checkpoint directories, complete or not (a location
// from before lineages, or a checkpoint in flight when its job crashed). A new run's snapshots
// take IDs above it.
func HighestID(ctx context.Context, st checkpoint.Storage, l *Lineage) (int64, error) {
	var id int64
	if l != nil {
		id = l.HighestID
	}
	files, err := st.List(ctx, "chk-")
	if err != nil {
		return 0, fmt.Errorf("checkpoint: listing the checkpoints of %s: %w", checkpoint.Location(st, ""), err)
	}
	for _, f := range files {
		dir, _, _ := strings.Cut(f.Name, "/")
		if n, ok := ParseCheckpointDir(dir); ok {
			id = max(id, n)
		}
	}
	return id, nil
}
