package state_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/runnel-io/runnel/state"
)

type userID string

type point struct {
	X, Y float32
	Tag  byte
}

type inner struct {
	Name string
	pts  []point
}

type record struct {
	ID      int64
	Small   int8
	U16     uint16
	Flag    bool
	Name    string
	Raw     []byte
	NilRaw  []byte
	Arr     [3]int
	Inner   inner
	Ptr     *inner
	NilPtr  *inner
	Tags    []string
	Empty   []string
	Counts  map[string]int
	When    time.Time
	C       complex128
	private uint32
	_       int
}

type tree struct {
	V        int
	Children []*tree
}

type withIface struct {
	Name string
	Any  any
}

// hiddenIface falls back to gob (an interface field) and has no exported field.
type hiddenIface struct{ v any }

func roundTrip[T any](t *testing.T, v T) []byte {
	t.Helper()
	c := state.CodecFor[T]()
	b := c.Append([]byte("prefix"), v)
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatalf("%T: Append overwrote dst", v)
	}
	b = b[len("prefix"):]
	got, err := c.Decode(b)
	if err != nil {
		t.Fatalf("%T: Decode: %v", v, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("%T: round trip\n got %#v\nwant %#v", v, got, v)
	}
	return b
}

func TestCodecRoundTrip(t *testing.T) {
	when := time.Date(2025, 3, 1, 12, 30, 0, 123, time.UTC)
	roundTrip(t, "")
	roundTrip(t, "héllo")
	roundTrip(t, userID("u1"))
	roundTrip(t, int64(math.MinInt64))
	roundTrip(t, math.MaxInt)
	roundTrip(t, uint64(math.MaxUint64))
	roundTrip(t, uint(7))
	roundTrip(t, int32(-5))
	roundTrip(t, uint8(200))
	roundTrip(t, int8(-100))
	roundTrip(t, math.Pi)
	roundTrip(t, float32(-1.5))
	roundTrip(t, true)
	roundTrip(t, false)
	roundTrip(t, []byte(nil))
	roundTrip(t, []byte{})
	roundTrip(t, []byte{0, 1, 255})
	roundTrip(t, [4]byte{1, 2, 3, 4})
	roundTrip(t, [2]int{-1, 1})
	roundTrip(t, []int{})
	roundTrip(t, []int(nil))
	roundTrip(t, map[string]int(nil))
	roundTrip(t, map[[2]int]string{{1, 2}: "a", {3, 4}: ""})
	roundTrip(t, point{1, -2, 3})
	roundTrip(t, when)
	roundTrip(t, struct{}{})
	roundTrip(t, []struct{}{{}, {}})
	roundTrip(t, record{
		ID: -42, Small: -1, U16: 65535, Flag: true, Name: "n", Raw: []byte{9}, NilRaw: nil,
		Arr: [3]int{1, 2, 3}, Inner: inner{"i", []point{{1, 2, 3}}}, Ptr: &inner{Name: "p"},
		Tags: []string{"a", ""}, Empty: []string{}, Counts: map[string]int{"x": 1, "y": 2},
		When: when, C: complex(1, -1), private: 77,
	})
	roundTrip(t, &tree{V: 1, Children: []*tree{{V: 2}, nil, {V: 3, Children: []*tree{{V: 4}}}}})
	// Gob: a type with an interface; registered concrete types travel.
	roundTrip(t, withIface{Name: "g", Any: 5})
}

func TestCodecNaN(t *testing.T) {
	c := state.CodecFor[float64]()
	got, err := c.Decode(c.Append(nil, math.NaN()))
	if err != nil || !math.IsNaN(got) {
		t.Fatalf("NaN: %v, %v", got, err)
	}
}

func TestCodecKeysAreDeterministic(t *testing.T) {
	type key struct {
		A string
		B [2]int16
		c bool
	}
	c := state.CodecFor[key]()
	k := key{"a", [2]int16{-1, 300}, true}
	if !bytes.Equal(c.Append(nil, k), c.Append(nil, k)) {
		t.Fatal("one key, two encodings")
	}
	if bytes.Equal(c.Append(nil, k), c.Append(nil, key{"a", [2]int16{-1, 300}, false})) {
		t.Fatal("keys differing in an unexported field encode alike")
	}
}

func TestCodecGobLimits(t *testing.T) {
	// Unexported fields of a gob-encoded type are lost.
	type mixed struct {
		Any    any
		hidden int
	}
	b := state.CodecFor[mixed]().Append(nil, mixed{Any: "x", hidden: 5})
	got, err := state.CodecFor[mixed]().Decode(b)
	if err != nil || got.hidden != 0 || got.Any != "x" {
		t.Fatalf("gob fallback: %+v, %v", got, err)
	}
	// A value gob cannot encode panics with an *EncodeError.
	for _, f := range []func(){
		func() { state.CodecFor[hiddenIface]().Append(nil, hiddenIface{1}) },
		func() { state.CodecFor[func()]().Append(nil, func() {}) },
	} {
		expectEncodeError(t, f)
	}
}

func expectEncodeError(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		var ee *state.EncodeError
		if err, ok := r.(error); !ok || !errors.As(err, &ee) {
			t.Fatalf("recovered %v, want an *EncodeError", r)
		}
	}()
	f()
}

func TestCodecSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		got  int
		want int
	}{
		{"int64 1", len(state.CodecFor[int64]().Append(nil, 1)), 1},
		{"string abc", len(state.CodecFor[string]().Append(nil, "abc")), 4},
		{"point", len(state.CodecFor[point]().Append(nil, point{})), 9},
		{"[16]byte", len(state.CodecFor[[16]byte]().Append(nil, [16]byte{})), 16},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}

func TestCodecDecodeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
	}{
		{"string cut", decodeErr[string]([]byte{5, 'a'})},
		{"string trailing", decodeErr[string]([]byte{1, 'a', 'b'})},
		{"int64 empty", decodeErr[int64](nil)},
		{"int64 trailing", decodeErr[int64]([]byte{2, 0})},
		{"int16 overflow", decodeErr[int16]([]byte{0x80, 0x80, 0x04})},
		{"bool 2", decodeErr[bool]([]byte{2})},
		{"float64 short", decodeErr[float64]([]byte{1, 2})},
		{"slice too long", decodeErr[[]int]([]byte{0xff, 0xff, 0x03, 1})},
		{"struct cut", decodeErr[point]([]byte{0, 0, 0})},
		{"pointer flag", decodeErr[*int]([]byte{2})},
		{"record trailing", decodeErr[point](make([]byte, 10))},
	} {
		if !errors.Is(c.err, state.ErrDecode) {
			t.Errorf("%s: %v, want ErrDecode", c.name, c.err)
		}
	}
}

func decodeErr[T any](b []byte) error {
	_, err := state.CodecFor[T]().Decode(b)
	return err
}

// FuzzCodecDecode checks that no input makes a decoder panic or allocate without bound, and
// that what decodes re-encodes to the same bytes.
func FuzzCodecDecode(f *testing.F) {
	c := state.CodecFor[record]()
	f.Add(c.Append(nil, record{Name: "x", Tags: []string{"a"}, Ptr: &inner{pts: []point{{}}}}))
	f.Add(c.Append(nil, record{}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	tc := state.CodecFor[*tree]()
	f.Add(tc.Append(nil, &tree{V: 1, Children: []*tree{{V: 2}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := c.Decode(b); err == nil {
			v.Counts = nil // map order varies
			b2 := c.Append(nil, v)
			v2, err := c.Decode(b2)
			if err != nil {
				t.Fatalf("re-encoded value does not decode: %v", err)
			}
			v2.Counts = nil
			if b3 := c.Append(nil, v2); !bytes.Equal(b2, b3) {
				t.Fatalf("unstable encoding: %x then %x", b2, b3)
			}
		}
		if v, err := tc.Decode(b); err == nil {
			if _, err := tc.Decode(tc.Append(nil, v)); err != nil {
				t.Fatalf("tree re-encoded does not decode: %v", err)
			}
		}
		_, _ = state.CodecFor[string]().Decode(b)
		_, _ = state.CodecFor[[]byte]().Decode(b)
		_, _ = state.CodecFor[map[int32][]string]().Decode(b)
		_, _ = state.CodecFor[[]struct{}]().Decode(b)
	})
}
