package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/splitcodec"
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
		b = splitcodec.AppendString(b, sp.Topic)
		b = binary.AppendVarint(b, int64(sp.Partition))
		b = binary.AppendVarint(b, sp.Next)
		return binary.AppendVarint(b, sp.End), nil
	case *knownSplit:
		b := []byte{splitVersion, kindKnownSplit}
		b = binary.AppendUvarint(b, uint64(len(sp.ids)))
		for _, id := range sp.ids {
			b = splitcodec.AppendString(b, id)
		}
		return b, nil
	}
	return nil, fmt.Errorf("kafka: cannot encode split %T", sp)
}

// DecodeSplit implements connector.SplitCodec. It returns an error wrapping ErrBadSplit, naming
// the field, for bytes EncodeSplit did not make, or of an unknown version.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	d := splitcodec.NewDecoder(b, ErrBadSplit)
	if v := d.Byte("version"); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, v, splitVersion)
	}
	switch kind := d.Byte("kind"); {
	case d.Err() != nil:
		return nil, d.Err()
	case kind == kindPartition:
		sp := &Split{Topic: d.String("topic")}
		p := d.Varint("partition")
		sp.Next, sp.End = d.Varint("next offset"), d.Varint("end offset")
		switch {
		case d.Err() != nil:
		case sp.Topic == "":
			d.Fail("topic", "empty")
		case p < 0 || p > math.MaxInt32:
			d.Fail("partition", "%d out of range", p)
		case sp.Next < 0:
			d.Fail("next offset", "%d is negative", sp.Next)
		}
		if err := d.Finish(); err != nil {
			return nil, err
		}
		sp.Partition = int32(p)
		return sp, nil
	case kind == kindKnownSplit:
		n := d.Count("known partitions", 1)
		k := &knownSplit{ids: make([]string, 0, n)}
		for range n {
			k.ids = append(k.ids, d.String("known partition"))
		}
		if err := d.Finish(); err != nil {
			return nil, err
		}
		slices.Sort(k.ids)
		return k, nil
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrBadSplit, kind)
	}
}
