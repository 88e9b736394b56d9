package avro_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/format/avro"
)

// TestFileRoundTrip writes Avro files with each codec and reads them back, whole and from a
// position.
func TestFileRoundTrip(t *testing.T) {
	in := make([]Bid, 2500)
	for i := range in {
		in[i] = Bid{Auction: int64(i), Bidder: strings.Repeat("b", i%5), Price: float64(i) / 4, OK: i%2 == 0}
		if i%3 == 0 {
			in[i].Extra = ptr("x")
		}
		if i%4 == 0 {
			in[i].Tags = []string{"t"}
		}
	}
	for _, codec := range []string{"", "deflate", "snappy", "zstandard"} {
		t.Run(codec, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := avro.NewFileWriter[Bid](&buf, avro.FileOptions{Codec: codec, BlockLength: 300})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range in {
				if err := w.WriteOne(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("Obj\x01")) {
				t.Fatalf("the file starts with % x, not Avro's magic", buf.Bytes()[:4])
			}
			for _, from := range []int64{0, 299, 300, 1234, 2500} {
				r, err := avro.NewFileReader[Bid](bytes.NewReader(buf.Bytes()), "bids.avro")
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Skip(from); err != nil {
					t.Fatal(err)
				}
				var got []Bid
				rows := make([]Bid, 333)
				for {
					n, err := r.Read(rows)
					got = append(got, rows[:n]...)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				_ = r.Close()
				want := in[from:]
				for i := range got {
					if len(got[i].Tags) == 0 {
						got[i].Tags = nil
					}
				}
				if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("from %d: read %d records, want %d (first %+v)", from, len(got), len(want), first1(got))
				}
			}
			r, _ := avro.NewFileReader[Bid](bytes.NewReader(buf.Bytes()), "bids.avro")
			if err := r.Skip(2501); err == nil || !strings.Contains(err.Error(), "bids.avro: position at record 2501 but the file has 2500") {
				t.Fatalf("skipping past the end: %v", err)
			}
		})
	}
}

func first1(b []Bid) any {
	if len(b) == 0 {
		return nil
	}
	return b[0]
}

// TestFileReaderErrors: a file that is not Avro, and one whose block is corrupt, give errors
// naming the file (and the record), not a panic.
func TestFileReaderErrors(t *testing.T) {
	if _, err := avro.NewFileReader[Bid](strings.NewReader(`{"auction": 1}`), "bids.json"); err == nil ||
		!strings.Contains(err.Error(), "bids.json: not a readable Avro file") {
		t.Fatalf("error %v, want the file named", err)
	}
	var buf bytes.Buffer
	w, _ := avro.NewFileWriter[Bid](&buf, avro.FileOptions{})
	for i := range 10 {
		_ = w.WriteOne(Bid{Auction: int64(i), Bidder: "abc"})
	}
	_ = w.Close()
	b := buf.Bytes()
	for _, cut := range []int{len(b) - 20, len(b) - 5} {
		r, err := avro.NewFileReader[Bid](bytes.NewReader(b[:cut]), "cut.avro")
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Read(make([]Bid, 20))
		if err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "cut.avro") {
			t.Fatalf("cut at %d of %d: error %v, want one naming the file", cut, len(b), err)
		}
		t.Log(err)
	}
	if err := avro.CheckFile[Bid](avro.FileOptions{Codec: "lz4"}); err == nil || !strings.Contains(err.Error(), `unknown file codec "lz4"`) {
		t.Fatalf("CheckFile: %v", err)
	}
}
