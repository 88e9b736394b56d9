package avro_test

import (
	"testing"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
	fjson "github.com/runnel-io/runnel/format/json"
)

// nexmarkBid has the fields of a Nexmark bid (connector/nexmark.Bid), with a typical URL and a
// short filler.
type nexmarkBid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

var benchBid = nexmarkBid{Auction: 1_000_123, Bidder: 2_004_567, Price: 31_415, Channel: "channel-4321",
	URL: "https://www.nexmark.com/vwpv/gbmw/item.htm?query=1&channel_id=1234567", DateTime: 1_700_000_000_123, Extra: "uvwxyzabcd"}

// BenchmarkDecode and BenchmarkEncode compare the Avro codec with the JSON one on the same
// record (go test -run XXX -bench 'Decode|Encode' ./format/avro/).
func BenchmarkDecode(b *testing.B) {
	aenc, _ := avro.NewEncoder[nexmarkBid](avro.Options{})
	adec, err := avro.NewDecoder[nexmarkBid](avro.Options{})
	if err != nil {
		b.Fatal(err)
	}
	araw, _ := aenc.Append(nil, benchBid)
	schema, _ := avro.SchemaOf[nexmarkBid]()
	cdec, _ := avro.NewDecoder[nexmarkBid](avro.Options{Framing: avro.Confluent, Registry: avro.MemoryRegistry{1: schema}})
	cenc, _ := avro.NewEncoder[nexmarkBid](avro.Options{Framing: avro.Confluent, SchemaID: 1})
	craw, _ := cenc.Append(nil, benchBid)
	jenc, _ := fjson.NewEncoder[nexmarkBid]()
	jdec, _ := fjson.NewDecoder[nexmarkBid]()
	jraw, _ := jenc.Append(nil, benchBid)
	run := func(name string, raw []byte, decode func([]byte, format.Position) (nexmarkBid, *format.RecordError)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if v, rerr := decode(raw, format.Position{}); rerr != nil || v.Auction != benchBid.Auction {
					b.Fatal(rerr)
				}
			}
		})
	}
	run("avro", araw, adec.Decode)
	run("avro-confluent", craw, cdec.Decode)
	run("json", jraw, jdec.Decode)
}

func BenchmarkEncode(b *testing.B) {
	aenc, err := avro.NewEncoder[nexmarkBid](avro.Options{})
	if err != nil {
		b.Fatal(err)
	}
	jenc, _ := fjson.NewEncoder[nexmarkBid]()
	run := func(name string, appendTo func([]byte, nexmarkBid) ([]byte, error)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				var err error
				if buf, err = appendTo(buf[:0], benchBid); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
	run("avro", aenc.Append)
	run("json", jenc.Append)
}
