package splitcodec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connector/splitcodec"
)

var errBad = errors.New("test: bad split")

// sample encodes one of every field.
func sample() []byte {
	b := []byte{7}
	b = splitcodec.AppendBool(b, true)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = binary.AppendUvarint(b, math.MaxInt64)
	b = splitcodec.AppendString(b, "héllo")
	b = splitcodec.AppendBytes(b, []byte{0, 1, 2})
	b = binary.AppendUvarint(b, 2)
	b = splitcodec.AppendString(b, "a")
	return splitcodec.AppendString(b, "")
}

func TestRoundTrip(t *testing.T) {
	b := sample()
	d := splitcodec.NewDecoder(b, errBad)
	if v := d.Byte("version"); v != 7 {
		t.Errorf("Byte = %d", v)
	}
	if !d.Bool("flag") {
		t.Error("Bool = false")
	}
	if v := d.Uvarint("u"); v != 300 {
		t.Errorf("Uvarint = %d", v)
	}
	if v := d.Varint("v"); v != -5 {
		t.Errorf("Varint = %d", v)
	}
	if v := d.Int64("i"); v != math.MaxInt64 {
		t.Errorf("Int64 = %d", v)
	}
	if v := d.String("s"); v != "héllo" {
		t.Errorf("String = %q", v)
	}
	p := d.Bytes("p")
	if !bytes.Equal(p, []byte{0, 1, 2}) {
		t.Errorf("Bytes = %v", p)
	}
	b[len(b)-8] = 99 // Bytes copied: changing the input leaves p alone
	if !bytes.Equal(p, []byte{0, 1, 2}) {
		t.Errorf("Bytes kept the input: %v", p)
	}
	n := d.Count("names", 1)
	var names []string
	for range n {
		names = append(names, d.String("name"))
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "" {
		t.Errorf("names %q", names)
	}
	if err := d.Finish(); err != nil || d.Len() != 0 {
		t.Fatalf("Finish = %v, %d bytes left", err, d.Len())
	}
}

// TestErrors checks that every failure wraps the sentinel and names the field, and that the
// first failure sticks.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(d *splitcodec.Decoder)
		want string
	}{
		{"empty byte", nil, func(d *splitcodec.Decoder) { d.Byte("version") }, "version: missing"},
		{"bool", []byte{2}, func(d *splitcodec.Decoder) { d.Bool("finished") }, "finished: 2 is not a boolean"},
		{"uvarint", []byte{0x80}, func(d *splitcodec.Decoder) { d.Uvarint("offset") }, "offset: truncated or malformed varint"},
		{"varint", bytes.Repeat([]byte{0xff}, 11), func(d *splitcodec.Decoder) { d.Varint("next") }, "next: truncated or malformed varint"},
		{"int64", binary.AppendUvarint(nil, math.MaxUint64), func(d *splitcodec.Decoder) { d.Int64("size") }, "size: 18446744073709551615 out of range"},
		{"string", []byte{5, 'a'}, func(d *splitcodec.Decoder) { d.String("path") }, "path: 5 bytes announced, 1 left"},
		{"string length", nil, func(d *splitcodec.Decoder) { d.String("path") }, "path length: truncated"},
		{"bytes", []byte{3}, func(d *splitcodec.Decoder) { d.Bytes("data") }, "data: 3 bytes announced, 0 left"},
		{"count", []byte{3, 1, 1}, func(d *splitcodec.Decoder) { d.Count("keys", 1) }, "keys count: 3 elements in 2 bytes"},
		{"count of pairs", []byte{2, 1, 1, 1}, func(d *splitcodec.Decoder) { d.Count("pairs", 2) }, "pairs count: 2 elements in 3 bytes"},
		{"trailing", []byte{1, 2}, func(d *splitcodec.Decoder) { d.Byte("version") }, "1 bytes after the split's last field"},
		{"first sticks", []byte{}, func(d *splitcodec.Decoder) {
			d.Byte("first")
			d.Fail("second", "later")
			if v := d.Uvarint("third"); v != 0 {
				panic("a read after a failure returned a value")
			}
		}, "first: missing"},
		{"fail", []byte{1}, func(d *splitcodec.Decoder) { d.Byte("kind"); d.Fail("kind", "unknown kind %d", 1) }, "kind: unknown kind 1"},
	} {
		d := splitcodec.NewDecoder(tc.b, errBad)
		tc.read(d)
		err := d.Finish()
		if !errors.Is(err, errBad) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error wrapping errBad containing %q", tc.name, err, tc.want)
		}
	}
}

// FuzzDecoder reads a fixed layout from arbitrary bytes: it must never panic or allocate past
// the input, and what it accepts must encode back to the same bytes.
func FuzzDecoder(f *testing.F) {
	f.Add(sample())
	f.Add([]byte{})
	f.Add([]byte{7, 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := splitcodec.NewDecoder(b, errBad)
		v := d.Byte("version")
		flag := d.Bool("flag")
		u := d.Uvarint("u")
		i := d.Varint("v")
		n := d.Int64("i")
		s := d.String("s")
		p := d.Bytes("p")
		var names []string
		for range d.Count("names", 1) {
			names = append(names, d.String("name"))
		}
		if err := d.Finish(); err != nil {
			if !errors.Is(err, errBad) {
				t.Fatalf("error %v does not wrap the sentinel", err)
			}
			return
		}
		again := []byte{v}
		again = splitcodec.AppendBool(again, flag)
		again = binary.AppendUvarint(again, u)
		again = binary.AppendVarint(again, i)
		again = binary.AppendUvarint(again, uint64(n))
		again = splitcodec.AppendString(again, s)
		again = splitcodec.AppendBytes(again, p)
		again = binary.AppendUvarint(again, uint64(len(names)))
		for _, name := range names {
			again = splitcodec.AppendString(again, name)
		}
		// Varints have several encodings of one value (trailing 0x80 groups); only canonical
		// inputs come back the same.
		if d2 := splitcodec.NewDecoder(again, errBad); d2.Byte("version") != v || d2.Bool("flag") != flag ||
			d2.Uvarint("u") != u || d2.Varint("v") != i || d2.Int64("i") != n || d2.String("s") != s ||
			!bytes.Equal(d2.Bytes("p"), p) {
			t.Fatalf("re-encoding %x as %x changed the values", b, again)
		}
	})
}
