package avro_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
)

// decodeWithin decodes raw in a goroutine and fails the test if that takes more than 10 s: the
// library, left alone, loops over the count of a field it skips.
func decodeWithin[T any](t *testing.T, dec *avro.Decoder[T], raw []byte) (T, *format.RecordError) {
	t.Helper()
	type result struct {
		v    T
		rerr *format.RecordError
	}
	done := make(chan result, 1)
	go func() {
		v, rerr := dec.Decode(raw, format.Position{Offset: -1})
		done <- result{v, rerr}
	}()
	select {
	case r := <-done:
		return r.v, r.rerr
	case <-time.After(10 * time.Second):
		t.Fatalf("still decoding % x after 10 s", raw)
	}
	panic("unreachable")
}

// TestSkippedFieldCount is a writer whose record has an array and a map the reader lacks, so
// that the library skips them: a count the body cannot hold is an error, not a loop of 2^62
// rounds.
func TestSkippedFieldCount(t *testing.T) {
	type slim struct {
		ID int64 `json:"id"`
	}
	writer := `{"type":"record","name":"slim","fields":[{"name":"id","type":"long"},
		{"name":"xs","type":{"type":"array","items":"long"}},
		{"name":"m","type":{"type":"map","values":"string"}}]}`
	dec, err := avro.NewDecoder[slim](avro.Options{Framing: avro.Confluent, Registry: avro.MemoryRegistry{1: writer}})
	if err != nil {
		t.Fatal(err)
	}
	head := []byte{0, 0, 0, 0, 1}
	huge := []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01} // 2^62 - 1
	for _, tc := range []struct {
		name  string
		body  []byte
		field string
	}{
		{"array", append([]byte{0x02}, huge...), "xs"},
		{"map", append([]byte{0x02, 0x00}, huge...), "m"},
		{"sized block", []byte{0x02, 0x03, 0x7e}, "xs"}, // -2 items in 63 bytes
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rerr := decodeWithin(t, dec, append(head, tc.body...))
			if rerr == nil || rerr.Field != tc.field {
				t.Fatalf("error %v, want one for field %q", rerr, tc.field)
			}
			t.Log(rerr)
		})
	}
	// Well-formed, with both forms of block.
	// id 1; xs: a block of -2 items in 2 bytes, 1 and 2, then the end; m: one item, k → v.
	good := []byte{0x02, 0x03, 0x04, 0x02, 0x04, 0x00, 0x02, 0x02, 'k', 0x02, 'v', 0x00}
	v, rerr := decodeWithin(t, dec, append(head, good...))
	if rerr != nil || v.ID != 1 {
		t.Fatalf("decoded %+v, %v", v, rerr)
	}
}

// TestDeepRecord is a recursive type nested past the limit: an error, where the library alone
// would recurse until the stack overflows (a crash recover cannot catch) a few million levels
// down.
func TestDeepRecord(t *testing.T) {
	type node struct {
		V    int32 `json:"v"`
		Next *node `json:"next"`
	}
	dec, err := avro.NewDecoder[node](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Each level is v = 0, then branch 1 of the union; the last level has branch 0, null.
	nested := func(levels int) []byte {
		return append(bytes.Repeat([]byte{0x00, 0x02}, levels), 0x00, 0x00)
	}
	v, rerr := dec.Decode(nested(1000), format.Position{})
	if rerr != nil {
		t.Fatal(rerr)
	}
	depth := 0
	for n := &v; n.Next != nil; n = n.Next {
		depth++
	}
	if depth != 1000 {
		t.Fatalf("decoded %d levels, want 1000", depth)
	}
	_, rerr = dec.Decode(nested(20_000), format.Position{})
	if rerr == nil || !strings.Contains(rerr.Error(), "nested deeper than 10000 levels") {
		t.Fatalf("error %v, want one about nesting", rerr)
	}
}

// TestAllocationBound is a 3-byte record claiming an array of a million large structs: the
// library would allocate them all (256 MB) before finding that the body has ended.
func TestAllocationBound(t *testing.T) {
	type big struct{ A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P string }
	type withBig struct {
		Items []big `json:"items"`
	}
	dec, err := avro.NewDecoder[withBig](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, rerr := dec.Decode([]byte{0xfe, 0xff, 0x7f}, format.Position{})
	runtime.ReadMemStats(&after)
	if rerr == nil || rerr.Field != "items" {
		t.Fatalf("error %v, want one for field items", rerr)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("allocated %d bytes for a 3-byte record", n)
	}
}

// TestEmptyItems is an array of records without fields, whose items take no bytes: more of
// them than the body has bytes is well-formed, up to MaxItems.
func TestEmptyItems(t *testing.T) {
	type mark struct{}
	type marks struct {
		Marks []mark `json:"marks"`
	}
	dec, err := avro.NewDecoder[marks](avro.Options{MaxItems: 1000})
	if err != nil {
		t.Fatal(err)
	}
	v, rerr := dec.Decode([]byte{0xd0, 0x0f, 0x00}, format.Position{}) // 1000 items
	if rerr != nil || len(v.Marks) != 1000 {
		t.Fatalf("decoded %d marks, %v; want 1000", len(v.Marks), rerr)
	}
	_, rerr = dec.Decode([]byte{0xd2, 0x0f, 0x00}, format.Position{}) // 1001 items
	if rerr == nil || !strings.Contains(rerr.Error(), "more than MaxItems (1000)") {
		t.Fatalf("error %v, want one about MaxItems", rerr)
	}
}

// TestFieldPath checks that an error deep in a record names the field by its path.
func TestFieldPath(t *testing.T) {
	dec, err := avro.NewDecoder[Every](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := avro.NewEncoder[Every](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := Every{Others: []Address{{City: "Oslo"}, {City: "Rome"}}}
	raw, err := enc.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	// Rome's length, 4 → zig-zag 08, becomes 127 → fe 01, past the end of the body.
	i := bytes.Index(raw, []byte("\x08Rome"))
	bad := append(append(append([]byte{}, raw[:i]...), 0xfe, 0x01), raw[i+1:]...)
	_, rerr := dec.Decode(bad, format.Position{})
	if rerr == nil || rerr.Field != "others[1].city" {
		t.Fatalf("error %v (field %q), want one for others[1].city", rerr, rerr.Field)
	}
	t.Log(rerr)
}

// TestCheckSchemaKinds covers types SchemaOf does not derive, in a schema given by the user:
// enum, fixed, float and boolean.
func TestCheckSchemaKinds(t *testing.T) {
	type reading struct {
		Color string  `json:"color"`
		Tag   [4]byte `json:"tag"`
		Level float32 `json:"level"`
		On    bool    `json:"on"`
	}
	schema := `{"type":"record","name":"reading","fields":[
		{"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
		{"name":"tag","type":{"type":"fixed","name":"Tag","size":4}},
		{"name":"level","type":"float"},{"name":"on","type":"boolean"}]}`
	dec, err := avro.NewDecoder[reading](avro.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	good := []byte{0x02, 'a', 'b', 'c', 'd', 0, 0, 0x80, 0x3f, 0x01} // GREEN, "abcd", 1.0, true
	v, rerr := dec.Decode(good, format.Position{})
	if rerr != nil || v != (reading{Color: "GREEN", Tag: [4]byte{'a', 'b', 'c', 'd'}, Level: 1, On: true}) {
		t.Fatalf("decoded %+v, %v", v, rerr)
	}
	// The encoder takes the enum too (T's zero value, an empty symbol, would not encode).
	enc, err := avro.NewEncoder[reading](avro.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := enc.Append(nil, v); err != nil || !bytes.Equal(b, good) {
		t.Fatalf("encoded % x, %v; want % x", b, err, good)
	}
	for _, tc := range []struct {
		raw   []byte
		field string
		want  string
	}{
		{append([]byte{0x04}, good[1:]...), "color", "enum symbol 2 of 2"},
		{good[:3], "tag", "ends early"},
		{good[:7], "level", "ends early"},
		{good[:9], "on", "ends early"},
	} {
		_, rerr := dec.Decode(tc.raw, format.Position{})
		if rerr == nil || rerr.Field != tc.field || !strings.Contains(rerr.Error(), tc.want) {
			t.Errorf("% x: error %v, want one for field %q containing %q", tc.raw, rerr, tc.field, tc.want)
		}
	}
}
