package datagen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/splitcodec"
)

// splitVersion is the version of the split encoding EncodeSplit writes. Version 1 is the byte
// 1 followed by Index as a uvarint and Next, Step and End as varints, nothing else.
const splitVersion = 1

// ErrBadSplit is wrapped by the errors of DecodeSplit about bytes that are not a split this
// source can read.
var ErrBadSplit = errors.New("datagen: bad split")

var _ connector.SplitCodec = (*Source[int])(nil)

// EncodeSplit implements connector.SplitCodec: it encodes s, which must be a *Split, with its
// position (the next number it produces). The result is the caller's. It returns an error for
// any other Split type.
func (s *Source[T]) EncodeSplit(sp connector.Split) ([]byte, error) {
	d, ok := sp.(*Split)
	if !ok || d == nil {
		return nil, fmt.Errorf("datagen: cannot encode split %T: not a *datagen.Split", sp)
	}
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64)
	b = append(b, splitVersion)
	b = binary.AppendUvarint(b, uint64(d.Index))
	b = binary.AppendVarint(b, d.Next)
	b = binary.AppendVarint(b, d.Step)
	b = binary.AppendVarint(b, d.End)
	return b, nil
}

// DecodeSplit implements connector.SplitCodec: it decodes a split EncodeSplit encoded, at the
// position it had. It returns an error wrapping ErrBadSplit for bytes that are not one
// encoding of a valid split, of an unknown version, or that this source cannot read (a slice
// source's split reaching past the end of its slice). It does not keep b.
func (s *Source[T]) DecodeSplit(b []byte) (connector.Split, error) {
	sp, err := decodeSplit(b)
	if err != nil {
		return nil, err
	}
	if s.slice && sp.End > s.count {
		return nil, fmt.Errorf("%w: %s ends at %d, past the end of the slice of %d records",
			ErrBadSplit, sp.SplitID(), sp.End, s.count)
	}
	return sp, nil
}

func decodeSplit(b []byte) (*Split, error) {
	d := splitcodec.NewDecoder(b, ErrBadSplit)
	if v := d.Byte("version"); d.Err() == nil && v != splitVersion {
		return nil, fmt.Errorf("%w: encoding version %d, this build reads version %d", ErrBadSplit, v, splitVersion)
	}
	index := d.Uvarint("index")
	sp := &Split{Next: d.Varint("next"), Step: d.Varint("step"), End: d.Varint("end")}
	switch {
	case d.Err() != nil:
	case index > math.MaxInt32:
		d.Fail("index", "%d out of range", index)
	case sp.Next < 0:
		d.Fail("next", "split-%d: negative position %d", index, sp.Next)
	case sp.Step <= 0:
		d.Fail("step", "split-%d: step %d must be positive", index, sp.Step)
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	sp.Index = int(index)
	return sp, nil
}
