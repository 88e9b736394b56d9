package parquet_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/runnel-io/runnel/format/parquet"
)

// bid is shaped like a Nexmark bid.
type bid struct {
	Auction  int64  `parquet:"auction"`
	Bidder   int64  `parquet:"bidder"`
	Price    int64  `parquet:"price"`
	Channel  string `parquet:"channel,dict"`
	URL      string `parquet:"url"`
	DateTime int64  `parquet:"dateTime,timestamp(millisecond)"`
	Extra    string `parquet:"extra"`
}

func bids(n int) []bid {
	out := make([]bid, n)
	for i := range out {
		out[i] = bid{Auction: int64(1000 + i%500), Bidder: int64(2000 + i%977), Price: int64(100 + i%10000),
			Channel:  [...]string{"Google", "Facebook", "Baidu", "Apple"}[i%4],
			URL:      "https://www.nexmark.com/item.htm?query=1&channel_id=" + string(rune('a'+i%26)),
			DateTime: 1_700_000_000_000 + int64(i), Extra: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
	}
	return out
}

// BenchmarkEncode writes 64k bids per iteration; b.SetBytes counts rows, so MB/s reads as
// millions of rows per second.
func BenchmarkEncode(b *testing.B) {
	in := bids(1 << 16)
	var buf bytes.Buffer
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		w, err := parquet.NewWriter[bid](&buf, parquet.WriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(in); i += 256 {
			if err := w.Write(in[i : i+256]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/float64(len(in)), "B/row")
}

// BenchmarkDecode reads 64k bids per iteration; b.SetBytes counts rows.
func BenchmarkDecode(b *testing.B) {
	in := bids(1 << 16)
	var buf bytes.Buffer
	w, err := parquet.NewWriter[bid](&buf, parquet.WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Write(in); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	out := make([]bid, 256)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := parquet.NewReader[bid](bytes.NewReader(data), int64(len(data)), "bench")
		if err != nil {
			b.Fatal(err)
		}
		total := 0
		for {
			n, err := r.Read(out)
			total += n
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if total != len(in) {
			b.Fatalf("read %d rows, want %d", total, len(in))
		}
	}
}
