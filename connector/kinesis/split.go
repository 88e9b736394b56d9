package kinesis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/runnel-io/runnel/connector"
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
		b = appendString(b, v.ShardID)
		b = binary.AppendUvarint(b, uint64(len(v.Parents)))
		for _, p := range v.Parents {
			b = appendString(b, p)
		}
		b = append(b, byte(v.Start.Kind))
		var ts int64
		if !v.Start.Timestamp.IsZero() {
			ts = v.Start.Timestamp.UnixNano()
		}
		b = binary.AppendVarint(b, ts)
		b = appendString(b, v.SequenceNumber)
		fin := byte(0)
		if v.Finished {
			fin = 1
		}
		return append(b, fin), nil
	case *enumState:
		if v == nil {
			break
		}
		b = append(b, kindEnum)
		ids := slices.Sorted(maps.Keys(v.assigned))
		b = binary.AppendUvarint(b, uint64(len(ids)))
		for _, id := range ids {
			b = appendString(b, id)
			b = binary.AppendVarint(b, int64(v.assigned[id]))
		}
		return b, nil
	}
	return nil, fmt.Errorf("kinesis: cannot encode split %T: not a *kinesis.Split", sp)
}

// DecodeSplit implements connector.SplitCodec: it decodes what EncodeSplit encoded. It returns an
// error wrapping ErrBadSplit for bytes of an unknown version or that are malformed. It does not
// keep b.
func (s *Source) DecodeSplit(b []byte) (connector.Split, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, v, splitVersion)
	}
	var out connector.Split
	switch kind := d.byte(); kind {
	case kindShard:
		sp := &Split{ShardID: d.string()}
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail("parent count")
			n = 0
		}
		for range n {
			sp.Parents = append(sp.Parents, d.string())
		}
		sp.Start.Kind = StartKind(d.byte())
		if ts := d.varint(); ts != 0 {
			sp.Start.Timestamp = time.Unix(0, ts).UTC()
		}
		sp.SequenceNumber = d.string()
		sp.Finished = d.byte() == 1
		if d.err == nil && (sp.ShardID == "" || sp.Start.Kind > AtTimestamp) {
			d.fail("shard")
		}
		out = sp
	case kindEnum:
		st := &enumState{assigned: map[string]int{}}
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail("assignment count")
			n = 0
		}
		for range n {
			id := d.string()
			st.assigned[id] = int(d.varint())
		}
		out = st
	default:
		d.fail(fmt.Sprintf("kind %d", kind))
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes after the split", ErrBadSplit, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the encoding; the first error sticks and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrBadSplit, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("encoding")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
