package csv_test

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/csv"
)

type bid struct {
	Auction  int64     `csv:"auction"`
	Bidder   int64     `csv:"bidder"`
	Price    int64     `csv:"price"`
	Channel  string    `csv:"channel"`
	URL      string    `csv:"url"`
	DateTime time.Time `csv:"dateTime,epochms"`
	Extra    string    `csv:"extra"`
	At       time.Time `csv:"at"`
	Ratio    float64   `csv:"ratio"`
	OK       bool      `csv:"ok"`
	Small    uint8     `csv:"small"`
	IP       netip.Addr
	//lint:ignore U1000 an unexported field the codec must skip
	skip    int
	Ignored string `csv:"-"`
}

var sample = bid{
	Auction: 1000123, Bidder: 2004567, Price: -987654, Channel: "channel-4711",
	URL: "https://www.nexmark.com/a,b?q=\"x\"", DateTime: time.UnixMilli(1767225600123).UTC(),
	Extra: "multi\nline, \"quoted\"\r\nend", At: time.Date(2026, 1, 1, 1, 2, 3, 4, time.FixedZone("", 3600)),
	Ratio: 0.1, OK: true, Small: 255, IP: netip.MustParseAddr("10.0.0.1"),
}

func codec(t testing.TB, opts csv.Options) (*csv.Decoder[bid], *csv.Encoder[bid]) {
	t.Helper()
	dec, err := csv.NewDecoder[bid](opts)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := csv.NewEncoder[bid](opts)
	if err != nil {
		t.Fatal(err)
	}
	return dec, enc
}

func same(a, b bid) bool {
	return a.Auction == b.Auction && a.Bidder == b.Bidder && a.Price == b.Price && a.Channel == b.Channel &&
		a.URL == b.URL && a.DateTime.Equal(b.DateTime) && a.Extra == b.Extra && a.At.Equal(b.At) &&
		a.Ratio == b.Ratio && a.OK == b.OK && a.Small == b.Small && a.IP == b.IP
}

func TestRoundTripWithHeader(t *testing.T) {
	for _, comma := range []rune{0, ';', '\t'} {
		dec, enc := codec(t, csv.Options{Comma: comma})
		buf := enc.AppendHeader(nil)
		values := []bid{sample, {IP: netip.MustParseAddr("::1")}}
		for _, v := range values {
			var err error
			if buf, err = enc.Append(buf, v); err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(buf))
		sc.Split(csv.ScanRecords)
		var recs [][]byte
		for sc.Scan() {
			recs = append(recs, bytes.Clone(sc.Bytes()))
		}
		if len(recs) != 3 {
			t.Fatalf("comma %q: %d records in %q", comma, len(recs), buf)
		}
		hdec, rerr := dec.WithHeader(recs[0], format.Position{Line: 1, Offset: 0})
		if rerr != nil {
			t.Fatal(rerr)
		}
		for i, rec := range recs[1:] {
			got, rerr := hdec.Decode(rec, format.Position{Line: int64(i + 2), Offset: -1})
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !same(got, values[i]) {
				t.Errorf("comma %q record %d: got %+v, want %+v", comma, i, got, values[i])
			}
		}
		// encoding/csv agrees on the framing and the fields (it turns a quoted \r\n into \n).
		r := stdcsv.NewReader(bytes.NewReader(buf))
		if comma != 0 {
			r.Comma = comma
		}
		all, err := r.ReadAll()
		if err != nil || len(all) != 3 || all[1][6] != strings.ReplaceAll(sample.Extra, "\r\n", "\n") || all[1][4] != sample.URL {
			t.Errorf("encoding/csv reads %q, %v", all, err)
		}
	}
}

func TestHeaderReordersAndIgnores(t *testing.T) {
	type row struct {
		A int    `csv:"a"`
		B string `csv:"b"`
	}
	dec, err := csv.NewDecoder[row](csv.Options{IgnoreUnknownColumns: true})
	if err != nil {
		t.Fatal(err)
	}
	h, rerr := dec.WithHeader([]byte("x,b,a\r\n"), format.Position{Offset: -1})
	if rerr != nil {
		t.Fatal(rerr)
	}
	got, rerr := h.Decode([]byte("junk,hello,42\r\n"), format.Position{Offset: -1})
	if rerr != nil || got != (row{42, "hello"}) {
		t.Errorf("got %+v, %v", got, rerr)
	}
	strict, _ := csv.NewDecoder[row](csv.Options{})
	for _, tc := range []struct{ header, want string }{
		{"x,b,a", `matches no field`},
		{"a", `no column for field`},
		{"a,b,a", `twice`},
		{`a,"b`, `unterminated`},
		{"", `empty`},
	} {
		_, rerr := strict.WithHeader([]byte(tc.header), format.Position{Source: "h.csv", Line: 1, Offset: 0})
		if rerr == nil || !strings.Contains(rerr.Error(), tc.want) || !strings.Contains(rerr.Error(), "h.csv line 1 offset 0") {
			t.Errorf("header %q: %v, want %q", tc.header, rerr, tc.want)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	type row struct {
		N  int32     `csv:"n"`
		U  uint      `csv:"u"`
		F  float32   `csv:"f"`
		B  bool      `csv:"b"`
		T  time.Time `csv:"t"`
		M  time.Time `csv:"m,epochms"`
		IP netip.Addr
		S  string `csv:"s"`
	}
	dec, err := csv.NewDecoder[row](csv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := "1,2,3.5,true,2026-01-01T00:00:00Z,1767225600123,10.0.0.1,s"
	if _, rerr := dec.Decode([]byte(good), format.Position{Offset: -1}); rerr != nil {
		t.Fatal(rerr)
	}
	pos := format.Position{Source: "kafka:orders/3", Offset: 981}
	for _, tc := range []struct {
		name, rec, field string
		is               error
	}{
		{"empty", "", "", csv.ErrEmpty},
		{"just newline", "\r\n", "", csv.ErrEmpty},
		{"too few", "1,2,3", "", csv.ErrFieldCount},
		{"too many", good + ",x", "", csv.ErrFieldCount},
		{"int syntax", strings.Replace(good, "1,", "x,", 1), "n", strconv.ErrSyntax},
		{"int32 range", strings.Replace(good, "1,", "3000000000,", 1), "n", strconv.ErrRange},
		{"negative uint", strings.Replace(good, ",2,", ",-2,", 1), "u", strconv.ErrSyntax},
		{"empty int", strings.Replace(good, "1,", ",", 1), "n", strconv.ErrSyntax},
		{"float", strings.Replace(good, "3.5", "3.5.5", 1), "f", strconv.ErrSyntax},
		{"bool", strings.Replace(good, "true", "yes", 1), "b", strconv.ErrSyntax},
		{"time", strings.Replace(good, "2026-01-01T00:00:00Z", "2026-01-01", 1), "t", nil},
		{"epochms", strings.Replace(good, "1767225600123", "1.5", 1), "m", strconv.ErrSyntax},
		{"text unmarshaler", strings.Replace(good, "10.0.0.1", "10.0.0.300", 1), "IP", nil},
		{"quote in bare field", strings.Replace(good, ",s", `,a"b`, 1), "s", csv.ErrQuote},
		{"text after quote", strings.Replace(good, ",s", `,"a"b`, 1), "s", csv.ErrQuote},
		{"unterminated", strings.Replace(good, ",s", `,"abc`, 1), "s", csv.ErrUnterminated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rerr := dec.Decode([]byte(tc.rec), pos)
			if rerr == nil {
				t.Fatalf("decoded %q to %+v", tc.rec, got)
			}
			if got != (row{}) {
				t.Errorf("non-zero value with error: %+v", got)
			}
			if rerr.Field != tc.field || rerr.Position != pos || string(rerr.Raw) != tc.rec || rerr.Format != "csv" {
				t.Errorf("error fields %+v, want field %q", rerr, tc.field)
			}
			if tc.is != nil && !errors.Is(rerr, tc.is) {
				t.Errorf("%v is not %v", rerr, tc.is)
			}
			if msg := rerr.Error(); !strings.HasPrefix(msg, "format: malformed csv record at kafka:orders/3 offset 981: ") {
				t.Errorf("message %q", msg)
			}
			t.Log(rerr)
		})
	}
}

func TestFieldMappingErrors(t *testing.T) {
	type slice struct{ Tags []string }
	type nested struct{ In struct{ A int } }
	type badOpt struct {
		N int `csv:"n,epochms"`
	}
	type unknownOpt struct {
		T time.Time `csv:"t,unix"`
	}
	type dup struct {
		A int `csv:"x"`
		B int `csv:"x"`
	}
	type none struct {
		//lint:ignore U1000 a struct with no exported field: the codec must refuse it
		a int
	}
	for _, tc := range []struct {
		err  func() error
		want string
	}{
		{func() error { _, err := csv.NewDecoder[slice](csv.Options{}); return err }, "csv: new decoder: field csv_test.slice.Tags of type []string is not supported"},
		{func() error { _, err := csv.NewEncoder[nested](csv.Options{}); return err }, "csv: new encoder: field csv_test.nested.In of type struct"},
		{func() error { _, err := csv.NewDecoder[badOpt](csv.Options{}); return err }, "epochms needs a time.Time"},
		{func() error { _, err := csv.NewDecoder[unknownOpt](csv.Options{}); return err }, `unknown tag option "unix"`},
		{func() error { _, err := csv.NewDecoder[dup](csv.Options{}); return err }, `both map to column "x"`},
		{func() error { _, err := csv.NewDecoder[none](csv.Options{}); return err }, "no exported fields"},
		{func() error { _, err := csv.NewDecoder[int](csv.Options{}); return err }, "not a struct"},
		{func() error { _, err := csv.NewDecoder[bid](csv.Options{Comma: '"'}); return err }, "invalid Comma"},
		{func() error { _, err := csv.NewEncoder[bid](csv.Options{Comma: '\n'}); return err }, "invalid Comma"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestScanRecords(t *testing.T) {
	in := "a,\"b\nc\",d\r\ne,f\n\"g\"\"\n\",h\n\"open"
	sc := bufio.NewScanner(strings.NewReader(in))
	sc.Split(csv.ScanRecords)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	want := []string{"a,\"b\nc\",d", "e,f", "\"g\"\"\n\",h", "\"open"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	_, enc := codec(f, csv.Options{})
	rec, _ := enc.Append(nil, sample)
	for _, s := range []string{string(rec), "", ",,,,,,,,,,,", `"`, `""`, `"a""b",`, "1,2,3,x,y,1,z,2026-01-01T00:00:00Z,1e9,true,300,::1"} {
		f.Add([]byte(s))
	}
	dec, _ := codec(f, csv.Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, rerr := dec.Decode(data, format.Position{Offset: -1})
		if rerr != nil {
			if rerr.Err == nil || !bytes.Equal(rerr.Raw, data) {
				t.Fatalf("bad error %+v", rerr)
			}
			return
		}
		// What decodes re-encodes and decodes to the same value.
		out, err := enc.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		v2, rerr := dec.Decode(out, format.Position{Offset: -1})
		if rerr != nil || !same(v, v2) {
			t.Fatalf("re-decode of %q: %+v, %v; want %+v", out, v2, rerr, v)
		}
	})
}
