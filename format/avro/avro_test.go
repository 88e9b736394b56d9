package avro_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
)

type Address struct {
	City string `json:"city"`
	Zip  *string
}

// Every is a record with a field of every kind SchemaOf maps.
type Every struct {
	B       bool              `json:"b"`
	I8      int8              `json:"i8"`
	I16     int16             `json:"i16"`
	I32     int32             `json:"i32"`
	U8      uint8             `json:"u8"`
	U16     uint16            `json:"u16"`
	U32     uint32            `json:"u32"`
	I       int               `json:"i"`
	I64     int64             `json:"i64,omitempty"`
	F32     float32           `json:"f32"`
	F64     float64           `json:"f64"`
	S       string            `json:"s"`
	Raw     []byte            `json:"raw"`
	At      time.Time         `json:"at"`
	Opt     *int64            `json:"opt"`
	Tags    []string          `json:"tags"`
	Attrs   map[string]int32  `json:"attrs"`
	Home    Address           `json:"home"`
	Others  []Address         `json:"others"`
	Maybe   *Address          `json:"maybe"`
	ByName  map[string]string `json:"by_name"`
	Ignored string            `json:"-"`
	hidden  int
}

func ptr[T any](v T) *T { return &v }

func TestSchemaOf(t *testing.T) {
	type Small struct {
		ID   int64   `json:"id"`
		Name string  `json:"name"`
		Note *string `json:"note"`
		When time.Time
		Next *Small `json:"next"`
	}
	got, err := avro.SchemaOf[Small]()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"record","name":"Small","fields":[
		{"name":"id","type":"long","default":0},
		{"name":"name","type":"string","default":""},
		{"name":"note","type":["null","string"],"default":null},
		{"name":"When","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"next","type":["null","Small"],"default":null}]}`
	if !jsonEqual(t, got, want) {
		t.Fatalf("SchemaOf[Small]() = %s\nwant %s", got, want)
	}
	if _, err := avro.SchemaOf[Every](); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaOfRejects(t *testing.T) {
	type BadMap struct {
		M map[int]string `json:"m"`
	}
	type BadName struct {
		X int `json:"user-id"`
	}
	type BadKind struct {
		Inner struct{ C chan int }
	}
	type BadUint struct {
		N uint64
	}
	type NoName struct {
		N int `json:",omitempty"`
	}
	type Base struct {
		ID int64 `json:"id"`
	}
	type TaggedEmbed struct {
		Base `json:"base"`
	}
	type PtrEmbed struct {
		*Base
	}
	type Code int
	type KindEmbed struct {
		Code
	}
	type Left struct{ At int64 }
	type Right struct{ At int64 }
	type Twice struct {
		Left
		Right
	}
	for _, tc := range []struct {
		f    func() (string, error)
		want string
	}{
		{avro.SchemaOf[BadMap], "BadMap.M: map key type int"},
		{avro.SchemaOf[BadName], `BadName.X: "user-id" is not a valid Avro field name`},
		{avro.SchemaOf[BadKind], "BadKind.Inner.C: type chan int has no Avro type"},
		{avro.SchemaOf[BadUint], "BadUint.N: type uint64 has no Avro type"},
		{avro.SchemaOf[int], "a record must be a struct"},
		{avro.SchemaOf[NoName], `NoName.N: the json tag ",omitempty" has no name`},
		{avro.SchemaOf[TaggedEmbed], "TaggedEmbed.Base: an embedded field with a json tag"},
		{avro.SchemaOf[PtrEmbed], "PtrEmbed.Base: an embedded pointer"},
		{avro.SchemaOf[KindEmbed], "KindEmbed.Code: an embedded avro_test.Code"},
		{avro.SchemaOf[Twice], `Twice.Left.At and Twice.Right.At are both named "At"`},
	} {
		_, err := tc.f()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

// Stamped is embedded in the records of TestSchemaOfEmbedded: as in encoding/json, its fields
// become the record's, and a field of the record itself hides one of the same name.
type Stamped struct {
	Source string `json:"source"`
	Seq    int64  `json:"seq"`
}

type stampedBid struct {
	Stamped
	Auction int64 `json:"auction"`
	Seq     int32 `json:"seq"` // hides Stamped.Seq
}

func TestSchemaOfEmbedded(t *testing.T) {
	got, err := avro.SchemaOf[stampedBid]()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"record","name":"stampedBid","fields":[
		{"name":"source","type":"string","default":""},
		{"name":"auction","type":"long","default":0},
		{"name":"seq","type":"int","default":0}]}`
	if !jsonEqual(t, got, want) {
		t.Fatalf("SchemaOf[stampedBid]() = %s\nwant %s", got, want)
	}
	enc, err := avro.NewEncoder[stampedBid](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := avro.NewDecoder[stampedBid](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := stampedBid{Stamped: Stamped{Source: "web", Seq: 99}, Auction: 7, Seq: 3}
	raw, err := enc.Append(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	out, rerr := dec.Decode(raw, format.Position{})
	in.Stamped.Seq = 0 // hidden, so not in the record
	if rerr != nil || out != in {
		t.Fatalf("decoded %+v, %v; want %+v", out, rerr, in)
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func every() Every {
	return Every{
		B: true, I8: -8, I16: -16, I32: -1 << 30, U8: 200, U16: 60000, U32: 4e9, I: -1 << 40,
		I64: 1 << 62, F32: 1.5, F64: -2.25, S: "héllo", Raw: []byte{0, 1, 255},
		At: time.UnixMilli(1_700_000_000_123).UTC(), Opt: ptr(int64(-7)),
		Tags: []string{"a", "", "c"}, Attrs: map[string]int32{"x": 1, "y": -2},
		Home: Address{City: "Lyon", Zip: ptr("69001")}, Others: []Address{{City: "Oslo"}, {City: "Rome", Zip: ptr("00100")}},
		Maybe: &Address{City: "Kyiv"}, ByName: map[string]string{"k": "v"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, framing := range []avro.Framing{avro.Plain, avro.Confluent} {
		t.Run(framing.String(), func(t *testing.T) {
			schema, err := avro.SchemaOf[Every]()
			if err != nil {
				t.Fatal(err)
			}
			opts := avro.Options{Framing: framing, SchemaID: 7, Registry: avro.MemoryRegistry{7: schema}}
			enc, err := avro.NewEncoder[Every](opts)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := avro.NewDecoder[Every](opts)
			if err != nil {
				t.Fatal(err)
			}
			in := []Every{every(), {}, {S: strings.Repeat("x", 5000), Tags: []string{}}}
			var buf []byte
			for _, v := range in {
				buf, err = enc.Append(buf[:0], v)
				if err != nil {
					t.Fatal(err)
				}
				got, rerr := dec.Decode(buf, format.Position{Source: "t", Offset: -1})
				if rerr != nil {
					t.Fatal(rerr)
				}
				want := v
				want.hidden, want.Ignored = 0, ""
				normalize(&want)
				normalize(&got)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("decoded %+v\nwant    %+v", got, want)
				}
			}
		})
	}
}

// normalize makes the empty and nil forms that Avro does not tell apart equal.
func normalize(e *Every) {
	if len(e.Raw) == 0 {
		e.Raw = nil
	}
	if len(e.Tags) == 0 {
		e.Tags = nil
	}
	if len(e.Attrs) == 0 {
		e.Attrs = nil
	}
	if len(e.Others) == 0 {
		e.Others = nil
	}
	if len(e.ByName) == 0 {
		e.ByName = nil
	}
	if e.At.IsZero() || e.At.Equal(time.UnixMilli(time.Time{}.UnixMilli())) {
		e.At = time.Time{}
	}
}

// Bid's bytes below are worked out by hand from the Avro specification (zig-zag varints,
// length-prefixed strings, a union's branch index before its value), so this test does not
// depend on the library to say what is right.
type Bid struct {
	Auction int64    `json:"auction"`
	Bidder  string   `json:"bidder"`
	Price   float64  `json:"price"`
	Extra   *string  `json:"extra"`
	Tags    []string `json:"tags"`
	OK      bool     `json:"ok"`
}

func TestKnownBytes(t *testing.T) {
	bid := Bid{Auction: 300, Bidder: "ab", Price: 1.5, Extra: ptr("z"), Tags: []string{"q"}, OK: true}
	want := []byte{
		0xd8, 0x04, // 300 → zig-zag 600 → varint d8 04
		0x04, 'a', 'b', // length 2 → zig-zag 4
		0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // 1.5 as little-endian IEEE 754
		0x02, 0x02, 'z', // union branch 1 (string), then "z"
		0x02, 0x02, 'q', 0x00, // one block of 1 item, "q", then the 0 that ends the array
		0x01, // true
	}
	enc, err := avro.NewEncoder[Bid](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := enc.Append([]byte("prefix"), bid)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("encoded % x\nwant    % x", got[6:], want)
	}
	dec, err := avro.NewDecoder[Bid](avro.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A negative number, the null branch and an empty array too.
	other := []byte{0x05, 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf, 0x00, 0x00, 0x00}
	for _, tc := range []struct {
		raw  []byte
		want Bid
	}{
		{want, bid},
		{other, Bid{Auction: -3, Price: -1}},
		// A block written with a negative count and its size in bytes, which the specification
		// also allows: -1 → zig-zag 01, 2 bytes → 04.
		{append(append(append([]byte{}, want[:16]...), 0x01, 0x04, 0x02, 'q', 0x00), want[len(want)-1]), bid},
	} {
		v, rerr := dec.Decode(tc.raw, format.Position{Offset: -1})
		if rerr != nil {
			t.Fatal(rerr)
		}
		if len(v.Tags) == 0 {
			v.Tags = nil
		}
		if !reflect.DeepEqual(v, tc.want) {
			t.Fatalf("decoded %+v, want %+v", v, tc.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	good := []byte{0xd8, 0x04, 0x04, 'a', 'b', 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x00, 0x00, 0x01}
	plain, err := avro.NewDecoder[Bid](avro.Options{MaxBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	schema, _ := avro.SchemaOf[Bid]()
	confluent, err := avro.NewDecoder[Bid](avro.Options{Framing: avro.Confluent, Registry: avro.MemoryRegistry{1: schema}})
	if err != nil {
		t.Fatal(err)
	}
	framed := append([]byte{0, 0, 0, 0, 1}, good...)
	if _, rerr := plain.Decode(good, format.Position{}); rerr != nil {
		t.Fatal(rerr)
	}
	if _, rerr := confluent.Decode(framed, format.Position{}); rerr != nil {
		t.Fatal(rerr)
	}
	for _, tc := range []struct {
		name string
		dec  *avro.Decoder[Bid]
		raw  []byte
		want string
	}{
		{"empty", plain, nil, "ends early"},
		{"truncated", plain, good[:8], "ends early"},
		{"trailing bytes", plain, append(append([]byte{}, good...), 7), "bytes are left after the record"},
		{"negative length", plain, []byte{0x02, 0x03}, `field "bidder": negative length -2`},
		{"huge length", plain, []byte{0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f}, `field "bidder": length 2147483647 is more than MaxBytes (1024)`},
		{"length past the end", plain, []byte{0x02, 0x10, 'a'}, `field "bidder": the record ends early after 3 bytes`},
		{"bad union branch", plain, []byte{0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x08}, `field "extra": union branch 4 of 2`},
		{"array past the end", plain, []byte{0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xfe, 0xff, 0x7f}, `field "tags": block of 1048575 items, 0 bytes left`},
		{"item past the end", plain, []byte{0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x08}, `field "tags[1]": the record ends early`},
		{"varint too long", plain, bytes.Repeat([]byte{0xff}, 11), `field "auction": varint longer than 10 bytes`},
		{"short header", confluent, []byte{0, 0, 1}, "5-byte header, got 3 bytes"},
		{"magic byte", confluent, append([]byte{1}, framed[1:]...), "magic byte 1, want 0"},
		{"unknown id", confluent, append([]byte{0, 0, 0, 0, 9}, good...), "schema ID 9: avro: unknown schema ID 9"},
		{"truncated body", confluent, framed[:10], "ends early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pos := format.Position{Source: "orders/3", Offset: 42}
			_, rerr := tc.dec.Decode(tc.raw, pos)
			if rerr == nil {
				t.Fatal("decoded")
			}
			if rerr.Format != "avro" || rerr.Position != pos || !bytes.Equal(rerr.Raw, tc.raw) ||
				!strings.Contains(rerr.Error(), tc.want) || !strings.Contains(rerr.Error(), "orders/3 offset 42") {
				t.Fatalf("error %v (format %q, raw % x); want an avro error at orders/3 offset 42 containing %q", rerr, rerr.Format, rerr.Raw, tc.want)
			}
			if errors.Is(rerr, format.ErrUnavailable) {
				t.Fatalf("%v wraps ErrUnavailable", rerr)
			}
			t.Log(rerr)
		})
	}
}

func TestNewRejects(t *testing.T) {
	schema, _ := avro.SchemaOf[Bid]()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bad schema", second(avro.NewDecoder[Bid](avro.Options{Schema: `{"type":"record"}`})), "schema of avro_test.Bid"},
		{"misfit", second(avro.NewDecoder[Bid](avro.Options{Schema: `{"type":"record","name":"Bid","fields":[{"name":"auction","type":"string"}]}`})), "does not fit the schema"},
		{"no registry", second(avro.NewDecoder[Bid](avro.Options{Framing: avro.Confluent})), "needs a Registry"},
		{"no id", second(avro.NewEncoder[Bid](avro.Options{Framing: avro.Confluent, Schema: schema})), "needs the schema's SchemaID"},
		{"framing", second(avro.NewEncoder[Bid](avro.Options{Framing: 9})), "invalid framing 9"},
		{"negative id", second(avro.NewEncoder[Bid](avro.Options{Framing: avro.Confluent, SchemaID: -1})), "SchemaID -1 is not a Schema Registry ID"},
		{"wide id", second(avro.NewEncoder[Bid](avro.Options{Framing: avro.Confluent, SchemaID: 1 << 31})), "SchemaID 2147483648 is not"},
		{"negative limit", avro.Options{MaxItems: -1}.Validate(), "negative MaxBytes 0 or MaxItems -1"},
		{"negative timeout", avro.Options{RegistryTimeout: -time.Second}.Validate(), "negative RegistryTimeout -1s"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, tc.err, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestProjection reads records into a type with fewer fields than the schema, as the JSON
// decoder ignores keys that match no field; writing such a type fails, since the record would
// lack a field without a default.
func TestProjection(t *testing.T) {
	type idOnly struct {
		ID int64 `json:"id"`
	}
	schema := `{"type":"record","name":"Bid","fields":[{"name":"id","type":"long"},{"name":"who","type":"string"}]}`
	dec, err := avro.NewDecoder[idOnly](avro.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	v, rerr := dec.Decode([]byte{0x0e, 0x04, 'a', 'b'}, format.Position{})
	if rerr != nil || v.ID != 7 {
		t.Fatalf("decoded %+v, %v", v, rerr)
	}
	if _, err := avro.NewEncoder[idOnly](avro.Options{Schema: schema}); err == nil || !strings.Contains(err.Error(), `missing required field "who"`) {
		t.Fatalf("error %v, want one about the missing field", err)
	}
}
