package json_test

import (
	stdjson "encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/json"
)

// bid is shaped like a Nexmark bid (connector/nexmark.Bid) plus a time and a nested value.
type bid struct {
	Auction  int64             `json:"auction"`
	Bidder   int64             `json:"bidder"`
	Price    int64             `json:"price"`
	Channel  string            `json:"channel"`
	URL      string            `json:"url"`
	DateTime int64             `json:"dateTime"`
	Extra    string            `json:"extra"`
	At       time.Time         `json:"at"`
	Tags     []string          `json:"tags,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"`
}

var sample = bid{
	Auction: 1000123, Bidder: 2004567, Price: 987654, Channel: "channel-4711",
	URL:      "https://www.nexmark.com/xyz/abc/item.htm?query=1&channel_id=1234567890",
	DateTime: 1767225600123, Extra: "zqkvmtuwzajlbrqncgrwdmqqevllq <&> \"quoted\" \u00e9\u4e16",
	At:   time.Date(2026, 1, 1, 0, 0, 0, 123_000_000, time.UTC),
	Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"},
}

func mustCodec[T any](t testing.TB) (*json.Decoder[T], *json.Encoder[T]) {
	t.Helper()
	dec, err := json.NewDecoder[T]()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.NewEncoder[T]()
	if err != nil {
		t.Fatal(err)
	}
	return dec, enc
}

func TestRoundTrip(t *testing.T) {
	dec, enc := mustCodec[bid](t)
	var buf []byte
	values := []bid{sample, {}, {Extra: "line\nbreak\ttab"}}
	for _, v := range values {
		var err error
		if buf, err = enc.Append(buf, v); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(buf), "\n"), "\n")
	if len(lines) != len(values) {
		t.Fatalf("got %d lines, want %d: %q", len(lines), len(values), buf)
	}
	for i, line := range lines {
		got, rerr := dec.Decode([]byte(line), format.Position{Source: "t", Line: int64(i + 1), Offset: -1})
		if rerr != nil {
			t.Fatal(rerr)
		}
		if !equal(got, values[i]) {
			t.Errorf("line %d: got %+v, want %+v", i+1, got, values[i])
		}
	}
	// The encoding is encoding/json's, so either can read the other's output.
	var std bid
	if err := stdjson.Unmarshal([]byte(lines[0]), &std); err != nil || !equal(std, sample) {
		t.Errorf("encoding/json reads %+v, %v", std, err)
	}
	if strings.Contains(lines[0], `\u003c`) {
		t.Errorf("HTML escaped: %s", lines[0])
	}
}

func equal(a, b bid) bool {
	ja, _ := stdjson.Marshal(a)
	jb, _ := stdjson.Marshal(b)
	return string(ja) == string(jb) && a.At.Equal(b.At)
}

func TestDecodeMalformed(t *testing.T) {
	dec, _ := mustCodec[bid](t)
	pos := format.Position{Source: "s3://bucket/bids.jsonl", Line: 7, Offset: 1234}
	for _, tc := range []struct {
		name, line string
		field      string
		is         error
		reason     string
	}{
		{name: "empty", line: "", is: json.ErrEmpty},
		{name: "blank", line: " \t\r\n", is: json.ErrEmpty},
		{name: "blank is format.ErrBlank", line: "  \r\n", is: format.ErrBlank},
		{name: "null", line: "null\n", is: json.ErrNull},
		{name: "truncated", line: `{"auction":1,"bidder"`},
		{name: "unterminated string", line: `{"channel":"abc}`},
		{name: "trailing garbage", line: `{"auction":1} x`},
		{name: "two values", line: `{"auction":1}{"auction":2}`},
		{name: "not an object", line: `[1,2,3]`},
		{name: "number", line: `42`},
		{name: "wrong type", line: `{"auction":"one"}`, field: "auction"},
		{name: "overflow", line: `{"price":1e400}`, field: "price"},
		{name: "float into int", line: `{"price":1.5}`, field: "price"},
		{name: "bad time", line: `{"at":"yesterday"}`},
		{name: "bad escape", line: `{"channel":"\x"}`},
		{name: "control char", line: "{\"channel\":\"a\x01b\"}"},
		{name: "single quotes", line: `{'auction':1}`},
		{name: "binary", line: "\x00\xff\xfe"},
		{name: "invalid UTF-8 in a string", line: "{\"channel\":\"a\xffb\"}", is: json.ErrInvalidUTF8},
		{name: "invalid UTF-8 in a key", line: "{\"chan\xffnel\":\"ab\"}", is: json.ErrInvalidUTF8},
		{name: "invalid UTF-8 in a map", line: "{\"attrs\":{\"k\":\"\xc3\"}}", is: json.ErrInvalidUTF8},
		{name: "UTF-8 surrogate", line: "{\"extra\":\"\xed\xa0\x80\"}", is: json.ErrInvalidUTF8},
		{name: "no-break space only", line: "\u00a0", is: nil},
		{name: "form feed only", line: "\f"},
		{name: "no-break space before", line: "\u00a0{\"auction\":1}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rerr := dec.Decode([]byte(tc.line), pos)
			if rerr == nil {
				t.Fatalf("decoded %q to %+v, want an error", tc.line, got)
			}
			if !equal(got, bid{}) {
				t.Errorf("got %+v with the error, want the zero value", got)
			}
			if rerr.Position != pos || string(rerr.Raw) != tc.line || rerr.Format != "json" || rerr.Err == nil {
				t.Errorf("error fields: %+v", rerr)
			}
			if tc.is != nil && !errors.Is(rerr, tc.is) {
				t.Errorf("error %v is not %v", rerr, tc.is)
			}
			if tc.is == nil && errors.Is(rerr, format.ErrBlank) {
				t.Errorf("error %v is format.ErrBlank: a line source would skip %q", rerr, tc.line)
			}
			if tc.field != "" && rerr.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", rerr.Field, tc.field, rerr)
			}
			msg := rerr.Error()
			for _, want := range []string{"format: malformed json record", "s3://bucket/bids.jsonl", "line 7", "offset 1234"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
		})
	}
}

// TestDecodeInvalidUTF8 checks that bytes that are not UTF-8 fail the line, naming the first
// bad byte, instead of decoding as U+FFFD, and that valid non-ASCII text still decodes.
func TestDecodeInvalidUTF8(t *testing.T) {
	dec, _ := mustCodec[bid](t)
	pos := format.Position{Source: "bids.jsonl", Line: 3, Offset: 99}
	for _, tc := range []struct {
		line string
		at   int // index of the first bad byte
	}{
		{"{\"channel\":\"a\xffb\"}", 13},
		{"{\"channel\":\"\u00e9\xe4\xb8\"}", 14}, // "é", then a truncated "世"
		{"  {\"extra\":\"\xc0\xaf\"}", 12},       // an overlong "/", after white space
	} {
		got, rerr := dec.Decode([]byte(tc.line), pos)
		if rerr == nil {
			t.Errorf("%q decoded to %+v (channel %q), want an error", tc.line, got, got.Channel)
			continue
		}
		want := fmt.Sprintf("format: malformed json record at bids.jsonl line 3 offset 99: json: invalid UTF-8 at byte %d of the line", tc.at)
		if !errors.Is(rerr, json.ErrInvalidUTF8) || rerr.Error() != want {
			t.Errorf("%q: error %q, want %q", tc.line, rerr, want)
		}
	}
	v, rerr := dec.Decode([]byte("{\"channel\":\"caf\u00e9 \u4e16 \ufffd\"}"), pos)
	if rerr != nil || v.Channel != "caf\u00e9 \u4e16 \ufffd" {
		t.Errorf("valid UTF-8: %q, %v", v.Channel, rerr)
	}
}

func TestDecodeRawIsCopied(t *testing.T) {
	dec, _ := mustCodec[bid](t)
	line := []byte(`{"auction":"x"}`)
	_, rerr := dec.Decode(line, format.Position{Offset: -1})
	copy(line, "XXXXXXXXXXXXXXX")
	if string(rerr.Raw) != `{"auction":"x"}` {
		t.Errorf("Raw aliases the input: %q", rerr.Raw)
	}
	// Strings in a decoded value do not alias the line either.
	line = []byte(`{"channel":"abc"}`)
	v, _ := dec.Decode(line, format.Position{Offset: -1})
	copy(line, "XXXXXXXXXXXXXXXXX")
	if v.Channel != "abc" {
		t.Errorf("decoded string aliases the input: %q", v.Channel)
	}
}

func TestUnsupportedTypes(t *testing.T) {
	type withChan struct {
		OK int
		C  chan int
	}
	type nested struct{ Inner struct{ F func() } }
	type skipped struct {
		F func() `json:"-"`
		//lint:ignore U1000 an unexported channel the codec must skip
		c chan int
		N int
	}
	type badKey struct{ M map[[2]int]string }
	if _, err := json.NewDecoder[withChan](); err == nil || !strings.Contains(err.Error(), "json_test.withChan.C") ||
		!strings.Contains(err.Error(), "chan int") {
		t.Errorf("chan field: %v", err)
	}
	if _, err := json.NewEncoder[nested](); err == nil || !strings.Contains(err.Error(), "nested.Inner.F") {
		t.Errorf("nested func field: %v", err)
	}
	if _, err := json.NewDecoder[complex128](); err == nil {
		t.Error("complex128 accepted")
	}
	if _, err := json.NewDecoder[badKey](); err == nil || !strings.Contains(err.Error(), "map key") {
		t.Errorf("array map key: %v", err)
	}
	if _, err := json.NewDecoder[skipped](); err != nil {
		t.Errorf("skipped fields: %v", err)
	}
	if _, err := json.NewDecoder[map[string]any](); err != nil {
		t.Errorf("map[string]any: %v", err)
	}
	if _, err := json.NewEncoder[time.Time](); err != nil {
		t.Errorf("time.Time: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	dec, _ := mustCodec[bid](t)
	_, rerr := dec.Decode([]byte("{"), format.Position{Source: "f", Line: 3, Offset: 10})
	if err := format.Fail.Handle(rerr, nil); err != rerr {
		t.Errorf("Fail returned %v", err)
	}
	var dead []*format.RecordError
	if err := format.DeadLetter.Handle(rerr, func(e *format.RecordError) error { dead = append(dead, e); return nil }); err != nil || len(dead) != 1 {
		t.Errorf("DeadLetter: %v, %d routed", err, len(dead))
	}
	if err := format.DeadLetter.Handle(rerr, nil); !errors.Is(err, format.ErrNoDeadLetter) || !errors.Is(err, rerr) {
		t.Errorf("DeadLetter without output: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	line, _ := stdjson.Marshal(sample)
	for _, s := range []string{string(line), "", "null", "{", `{"auction":1e999}`, `{"at":"2026-01-01T00:00:00Z"}`,
		`{"tags":[1]}`, `{"attrs":{"a":1}}`, "\"\\ud800\"", `{"extra":"\u0000"}`} {
		f.Add([]byte(s))
	}
	dec, _ := mustCodec[bid](f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, rerr := dec.Decode(data, format.Position{Offset: -1})
		if rerr != nil {
			if rerr.Err == nil || string(rerr.Raw) != string(data) {
				t.Fatalf("bad error %+v", rerr)
			}
			if strings.Contains(rerr.Error(), "decoder panic") {
				t.Fatalf("library panicked: %v", rerr)
			}
			return
		}
		// What decodes must agree with encoding/json.
		var std bid
		if err := stdjson.Unmarshal(data, &std); err != nil {
			t.Logf("goccy accepts what encoding/json rejects (%v): %q", err, data)
			return
		}
		if !equal(v, std) {
			t.Logf("goccy %+v, encoding/json %+v for %q", v, std, data)
		}
	})
}
