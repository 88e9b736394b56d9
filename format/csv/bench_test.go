package csv_test

import (
	"bytes"
	stdcsv "encoding/csv"
	"strconv"
	"testing"
	"time"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/csv"
)

type nexBid struct {
	Auction  int64     `csv:"auction"`
	Bidder   int64     `csv:"bidder"`
	Price    int64     `csv:"price"`
	Channel  string    `csv:"channel"`
	URL      string    `csv:"url"`
	DateTime time.Time `csv:"dateTime,epochms"`
	Extra    string    `csv:"extra"`
}

var benchBid = nexBid{Auction: 1000123, Bidder: 2004567, Price: 987654, Channel: "channel-4711",
	URL: "https://www.nexmark.com/xyz/abc/item.htm?query=1,channel_id=1234567890", DateTime: time.UnixMilli(1767225600123).UTC(),
	Extra: "zqkvmtuwzajlbrqncgrwdmqqevllqqdmhxrzwprkcktyyqnvvfiqodmqfgwrxlkwq"}

// BenchmarkDecode compares the package's splitter with encoding/csv reading one record at a
// time, as a connector hands records over.
func BenchmarkDecode(b *testing.B) {
	enc, _ := csv.NewEncoder[nexBid](csv.Options{})
	rec, _ := enc.Append(nil, benchBid)
	b.Run("format/csv", func(b *testing.B) {
		dec, _ := csv.NewDecoder[nexBid](csv.Options{})
		b.ReportAllocs()
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if _, rerr := dec.Decode(rec, format.Position{Offset: -1}); rerr != nil {
				b.Fatal(rerr)
			}
		}
	})
	b.Run("encoding/csv+strconv", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(rec)))
		r := bytes.NewReader(rec)
		for b.Loop() {
			r.Reset(rec)
			cr := stdcsv.NewReader(r)
			cr.ReuseRecord = true
			f, err := cr.Read()
			if err != nil {
				b.Fatal(err)
			}
			var v nexBid
			v.Auction, _ = strconv.ParseInt(f[0], 10, 64)
			v.Bidder, _ = strconv.ParseInt(f[1], 10, 64)
			v.Price, _ = strconv.ParseInt(f[2], 10, 64)
			v.Channel, v.URL, v.Extra = f[3], f[4], f[6]
			ms, _ := strconv.ParseInt(f[5], 10, 64)
			v.DateTime = time.UnixMilli(ms)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	enc, _ := csv.NewEncoder[nexBid](csv.Options{})
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = enc.Append(buf[:0], benchBid)
	}
}
