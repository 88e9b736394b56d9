package json_test

import (
	stdjson "encoding/json"
	"testing"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/json"
)

// nexBid is connector/nexmark.Bid's shape.
type nexBid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

var benchBid = nexBid{Auction: 1000123, Bidder: 2004567, Price: 987654, Channel: "channel-4711",
	URL: "https://www.nexmark.com/xyz/abc/item.htm?query=1&channel_id=1234567890", DateTime: 1767225600123,
	Extra: "zqkvmtuwzajlbrqncgrwdmqqevllqqdmhxrzwprkcktyyqnvvfiqodmqfgwrxlkwq"}

// BenchmarkDecode compares this package (goccy/go-json) with encoding/json.
func BenchmarkDecode(b *testing.B) {
	line, _ := stdjson.Marshal(benchBid)
	b.Run("format/json", func(b *testing.B) {
		dec, _ := json.NewDecoder[nexBid]()
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if _, rerr := dec.Decode(line, format.Position{Offset: -1}); rerr != nil {
				b.Fatal(rerr)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			var v nexBid
			if err := stdjson.Unmarshal(line, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncode compares this package (goccy/go-json) with encoding/json.
func BenchmarkEncode(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.Run("format/json", func(b *testing.B) {
		enc, _ := json.NewEncoder[nexBid]()
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = enc.Append(buf[:0], benchBid)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := stdjson.Marshal(&benchBid)
			buf = append(append(buf[:0], out...), '\n')
		}
	})
}
