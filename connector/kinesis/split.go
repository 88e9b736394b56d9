package kinesis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/splitcodec"
)

// StartKind says where a reader starts in a shard that no checkpoint holds a position for.
type StartKind uint8

const (
	// TrimHorizon starts at the oldest record the stream retains (the default).
	TrimHorizon StartKind = iota
	// Latest starts after the newest record, at job start; only open shards are read.
	Latest
	// AtTimestamp starts at the first record that arrived at or after StartPosition.Timestamp.
	AtTimestamp
)

func (k StartKind) String() string {
	switch k {
	case TrimHorizon:
		return "TRIM_HORIZON"
	case Latest:
		return "LATEST"
	case AtTimestamp:
		return "AT_TIMESTAMP"
	}
	return fmt.Sprintf("StartKind(%d)", uint8(k))
}

// StartPosition is where reading starts in the shards found at the first start of a job. Shards
// created later by resharding are always read from their beginning (their parents were read to
// the end), and shards restored from a checkpoint resume after their last sequence number read.
type StartPosition struct {
	Kind StartKind
	// Timestamp is the arrival time to start at, for AtTimestamp.
	Timestamp time.Time
}

// Split is one shard of the stream. Its position is SequenceNumber, the last sequence number
// emitted: a reader given the split reads AFTER_SEQUENCE_NUMBER it, or from Start when it is
// empty. Parents are the shards that must be read to their end before this one.
type Split struct {
	ShardID        string
	Parents        []string
	Start          StartPosition
	SequenceNumber string
	// Finished marks a shard read to its end. Readers keep finished shards in their snapshots
	// (as markers, without reading them) until the stream no longer lists them, so that a
	// restored job knows which parents are done.
	Finished bool
}

// SplitID returns the shard ID.
func (s *Split) SplitID() string { return s.ShardID }

func (s *Split) clone() *Split {
	c := *s
	c.Parents = slices.Clone(s.Parents)
	return &c
}

// enumState is the enumerator's own state, carried through checkpoints as one extra split among
// the unassigned ones: which shards it assigned, and to which subtask. It is never assigned to a
// reader.
type enumState struct {
	assigned map[string]int
}

// enumStateID is the SplitID of the enumerator's state; no shard ID looks like it.
const enumStateID = "#kinesis-enumerator"

func (e *enumState) SplitID() string { return enumStateID }

// Encoding versions: version 1 is the byte 1, a kind byte (0 shard, 1 enumerator state) and the
// fields below, strings as uvarint length and bytes.
const splitVersion = 1

const (
	kindShard = 0
	kindEnum  = 1
)

// ErrBadSplit is wrapped by the errors of DecodeSplit about bytes that are not a split this
// source wrote.
var ErrBadSplit = errors.New("kinesis: bad split")

var _ connector.SplitCodec = (*Source)(nil)

// EncodeSplit implements connector.SplitCodec. It accepts the *Split values of this source (and
// its enumerator's own state) and returns an error for any other Split type.
func (s *Source) EncodeSplit(sp connector.Split) ([]byte, error) {
	b := []byte{splitVersion}
	switch v := sp.(type) {
	case *Split:
		if v == nil {
			break
		}
		b = append(b, kindShard)
		b = splitcodec.AppendString(b, v.ShardID)
		b = binary.AppendUvarint(b, uint64(len(v.Parents)))
		for _, p := range v.Parents {
			b = splitcodec.AppendString(b, p)
		}
		b = append(b, byte(v.Start.Kind))
		var ts int64
		if !v.Start.Timestamp.IsZero() {
			ts = v.Start.Timestamp.UnixNano()
		}
		b = binary.AppendVarint(b, ts)
		b = splitcodec.AppendString(b, v.SequenceNumber)
		return splitcodec.AppendBool(b, v.Finished), nil
	case *enumState:
		if v == nil {
			break
		}
		b = append(b, kindEnum)
		ids := slices.Sorted(maps.Keys(v.assigned))
		b = binary.AppendUvarint(b, uint64(len(ids)))
		for _, id := range ids {
			b = splitcodec.AppendString(b, id)
			b = binary.AppendVarint(b, int64(v.assigned[id]))
		}
		return b, nil
	}
	return nil, fmt.Errorf("kinesis: cannot encode split %T: not a *kinesis.Split", sp)
}

// DecodeSplit implements connector.SplitCodec: it decodes what EncodeSplit encoded. It returns an
// error wrapping ErrBadSplit, naming the field, for bytes of an unknown version or that are
// malformed. It does not keep b.
func (s *Source) DecodeSplit(b []byte) (connector.Split, error) {
	d := splitcodec.NewDecoder(b, ErrBadSplit)
	if v := d.Byte("version"); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, v, splitVersion)
	}
	var out connector.Split
	switch kind := d.Byte("kind"); {
	case d.Err() != nil:
	case kind == kindShard:
		sp := &Split{ShardID: d.String("shard ID")}
		for range d.Count("parents", 1) {
			sp.Parents = append(sp.Parents, d.String("parent"))
		}
		sp.Start.Kind = StartKind(d.Byte("start kind"))
		if ts := d.Varint("start timestamp"); ts != 0 {
			sp.Start.Timestamp = time.Unix(0, ts).UTC()
		}
		sp.SequenceNumber = d.String("sequence number")
		// Version 1 wrote any byte other than 1 as not finished; only 0 re-encodes the same.
		sp.Finished = d.Byte("finished") == 1
		switch {
		case d.Err() != nil:
		case sp.ShardID == "":
			d.Fail("shard ID", "empty")
		case sp.Start.Kind > AtTimestamp:
			d.Fail("start kind", "unknown kind %d", sp.Start.Kind)
		}
		out = sp
	case kind == kindEnum:
		st := &enumState{assigned: map[string]int{}}
		for range d.Count("assignments", 2) {
			id := d.String("assigned shard")
			st.assigned[id] = int(d.Varint("assigned subtask"))
		}
		out = st
	default:
		d.Fail("kind", "unknown kind %d", kind)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}
