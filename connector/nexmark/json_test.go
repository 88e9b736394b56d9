package nexmark

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestAppendJSONMatchesEncodingJSON checks generated events byte for byte against
// encoding/json, and that both encoding/json and ParseJSON read them back unchanged.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	g := newGenerator(t, Config{Seed: 11})
	var buf []byte
	for n := range int64(2000) {
		e := g.Event(n)
		buf = AppendJSON(buf[:0], &e)
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("event %d:\nAppendJSON   %s\njson.Marshal %s", n, buf, want)
		}
		var viaStd Event
		if err := json.Unmarshal(buf, &viaStd); err != nil {
			t.Fatalf("event %d: json.Unmarshal(%s): %v", n, buf, err)
		}
		if !reflect.DeepEqual(viaStd, e) {
			t.Fatalf("event %d: json.Unmarshal gives %+v, want %+v", n, viaStd, e)
		}
		parsed, err := ParseJSON(buf)
		if err != nil {
			t.Fatalf("event %d: ParseJSON(%s): %v", n, buf, err)
		}
		if !reflect.DeepEqual(parsed, e) {
			t.Fatalf("event %d: ParseJSON gives %+v, want %+v", n, parsed, e)
		}
	}
}

func TestAppendJSONFieldNames(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{
			Event{Type: PersonEvent, Person: &Person{ID: 1000, Name: "Peter Shultz", EmailAddress: "a@b.com", CreditCard: "1234 5678 9012 3456", City: "Kent", State: "WA", DateTime: 1767225600000, Extra: "x"}},
			`{"event_type":0,"person":{"id":1000,"name":"Peter Shultz","emailAddress":"a@b.com","creditCard":"1234 5678 9012 3456","city":"Kent","state":"WA","dateTime":1767225600000,"extra":"x"}}`,
		},
		{
			Event{Type: AuctionEvent, Auction: &Auction{ID: 1001, ItemName: "it", Description: "d", InitialBid: 1, Reserve: 2, DateTime: 3, Expires: 4, Seller: 1000, Category: 10}},
			`{"event_type":1,"auction":{"id":1001,"itemName":"it","description":"d","initialBid":1,"reserve":2,"dateTime":3,"expires":4,"seller":1000,"category":10,"extra":""}}`,
		},
		{
			Event{Type: BidEvent, Bid: &Bid{Auction: 1001, Bidder: 1000, Price: -7, Channel: "Google", URL: "https://x/?a=1&b=2", DateTime: -1}},
			`{"event_type":2,"bid":{"auction":1001,"bidder":1000,"price":-7,"channel":"Google","url":"https://x/?a=1\u0026b=2","dateTime":-1,"extra":""}}`,
		},
	} {
		if got := string(AppendJSON(nil, &tc.e)); got != tc.want {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestAppendJSONEscapesLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"",
		`plain`,
		`"quoted" \back\slash/`,
		"\x00\x01\x1f\x7f \b\f\n\r\t",
		"<script>&amp;</script>",
		"héllo, 世界, 🙂",
		"line\u2028para\u2029end",
		"bad \xff utf8 \xc3 \xe2\x82 end\xf0",
		strings.Repeat("long ", 100),
	} {
		e := Event{Type: BidEvent, Bid: &Bid{Channel: s, URL: s, Extra: s}}
		got := AppendJSON(nil, &e)
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q:\nAppendJSON   %s\njson.Marshal %s", s, got, want)
		}
	}
}

func TestAppendJSONAppends(t *testing.T) {
	e := Event{Type: BidEvent, Bid: &Bid{Auction: 1}}
	got := AppendJSON([]byte("prefix "), &e)
	if !bytes.HasPrefix(got, []byte(`prefix {"event_type":2,`)) || !bytes.HasSuffix(got, []byte("}}")) {
		t.Errorf("AppendJSON did not append: %s", got)
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, line := range []string{
		``,
		`null`,
		`[]`,
		`{"event_type":2}`,
		`{"event_type":3,"bid":{}}`,
		`{"event_type":256,"bid":{}}`,
		`{"event_type":-1,"bid":{}}`,
		`{"event_type":0,"bid":{}}`,
		`{"event_type":2,"bid":{},"person":{}}`,
		`{"event_type":2,"bid":null}`,
		`{"event_type":2,"bid":{"price":"12"}}`,
		`{"event_type":2,"bid":{"price":1.5}}`,
		`{"event_type":2,"bid":{}} {}`,
		`{"event_type":2,"bid":{}`,
	} {
		if e, err := ParseJSON([]byte(line)); err == nil {
			t.Errorf("ParseJSON(%s) = %+v, want an error", line, e)
		} else if !strings.HasPrefix(err.Error(), "nexmark: parse event: ") {
			t.Errorf("ParseJSON(%s): error %q lacks the package prefix", line, err)
		}
	}
}

func TestParseJSONAccepts(t *testing.T) {
	got, err := ParseJSON([]byte(" {\"bid\":{\"auction\":5,\"unknown\":1},\"event_type\":2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Event{Type: BidEvent, Bid: &Bid{Auction: 5}}); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseJSON = %+v, want %+v", got, want)
	}
}

// FuzzParseJSON checks that ParseJSON never panics, and that whatever it accepts AppendJSON
// writes as encoding/json would and ParseJSON reads back unchanged.
func FuzzParseJSON(f *testing.F) {
	g, err := NewGenerator(Config{})
	if err != nil {
		f.Fatal(err)
	}
	for n := range int64(5) {
		e := g.Event(n)
		f.Add(AppendJSON(nil, &e))
	}
	f.Add([]byte(`{"event_type":2,"bid":{"channel":"\u2028\ud800<>&\"\\","url":"\u00e9"}}`))
	f.Add([]byte(`{"event_type":0,"person":{"name":"\xff"}}`))
	f.Add([]byte(`{"event_type":1,"auction":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseJSON(line)
		if err != nil {
			return
		}
		out := AppendJSON(nil, &e)
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("AppendJSON   %s\njson.Marshal %s", out, want)
		}
		again, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("ParseJSON(AppendJSON(%+v)) = %v", e, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip changed %+v into %+v", e, again)
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	g := newGenerator(b, Config{})
	const count = 1000
	events := sequential(g, count)
	var size int
	for i := range events {
		size += len(AppendJSON(nil, &events[i]))
	}
	b.SetBytes(int64(size / count))
	buf := make([]byte, 0, 4096)
	i := 0
	for b.Loop() {
		buf = AppendJSON(buf[:0], &events[i%count])
		i++
	}
}
