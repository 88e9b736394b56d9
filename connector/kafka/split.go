package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/runnel-io/runnel/connector"
)

// Split is one partition of a topic. Its position, Next, is the offset of the next record to
// read; End, when not negative, is the offset it stops before (bounded sources).
type Split struct {
	Topic     string
	Partition int32
	Next      int64
	End       int64
}

// SplitID returns "topic-partition".
func (s *Split) SplitID() string { return splitID(s.Topic, s.Partition) }

func splitID(topic string, p int32) string { return topic + "-" + strconv.Itoa(int(p)) }

// done reports whether a bounded split is read to its end.
func (s *Split) done() bool { return s.End >= 0 && s.Next >= s.End }

// knownSplit is not a partition: an enumerator's Snapshot adds it to remember every partition it
// made a split for (assigned ones included), so that discovery after a restore makes splits
// only for new partitions. It is never assigned to a reader.
type knownSplit struct {
	ids []string // sorted
}

func (*knownSplit) SplitID() string { return knownSplitID }

// knownSplitID cannot be a partition's ID: those end in "-<number>".
const knownSplitID = "kafka-known-partitions-"

// Split encodings, after the version byte: kind 1 a partition (topic, partition, next, end),
// kind 2 the known partitions (count, then each ID).
const (
	splitVersion   = 1
	kindPartition  = 1
	kindKnownSplit = 2
)

// ErrBadSplit is wrapped by the errors of DecodeSplit about bytes that are not a split of this
// connector.
var ErrBadSplit = errors.New("kafka: bad split")

// EncodeSplit implements connector.SplitCodec.
func (s *Source[T]) EncodeSplit(sp connector.Split) ([]byte, error) {
	switch sp := sp.(type) {
	case *Split:
		b := []byte{splitVersion, kindPartition}
		b = binary.AppendUvarint(b, uint64(len(sp.Topic)))
		b = append(b, sp.Topic...)
		b = binary.AppendVarint(b, int64(sp.Partition))
		b = binary.AppendVarint(b, sp.Next)
		return binary.AppendVarint(b, sp.End), nil
	case *knownSplit:
		b := []byte{splitVersion, kindKnownSplit}
		b = binary.AppendUvarint(b, uint64(len(sp.ids)))
		for _, id := range sp.ids {
			b = binary.AppendUvarint(b, uint64(len(id)))
			b = append(b, id...)
		}
		return b, nil
	}
	return nil, fmt.Errorf("kafka: cannot encode split %T", sp)
}

// DecodeSplit implements connector.SplitCodec. It returns an error wrapping ErrBadSplit for
// bytes EncodeSplit did not make, or of an unknown version.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadSplit, len(b))
	}
	if b[0] != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, b[0], splitVersion)
	}
	d := decoder{b: b[2:]}
	switch b[1] {
	case kindPartition:
		sp := &Split{Topic: d.str()}
		p := d.varint()
		sp.Next, sp.End = d.varint(), d.varint()
		if d.err != nil || len(d.b) > 0 || p < 0 || p > 1<<31-1 || sp.Next < 0 || sp.Topic == "" {
			return nil, fmt.Errorf("%w: malformed partition split", ErrBadSplit)
		}
		sp.Partition = int32(p)
		return sp, nil
	case kindKnownSplit:
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return nil, fmt.Errorf("%w: malformed known partitions", ErrBadSplit)
		}
		k := &knownSplit{ids: make([]string, 0, n)}
		for range n {
			k.ids = append(k.ids, d.str())
		}
		if d.err != nil || len(d.b) > 0 {
			return nil, fmt.Errorf("%w: malformed known partitions", ErrBadSplit)
		}
		slices.Sort(k.ids)
		return k, nil
	}
	return nil, fmt.Errorf("%w: unknown kind %d", ErrBadSplit, b[1])
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = ErrBadSplit, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = ErrBadSplit, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = ErrBadSplit, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
