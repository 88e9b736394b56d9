package avro_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
)

// everyPlus is a later version of Every with fields that Every's decoder skips, the path where
// the library alone loops over a corrupt count.
type everyPlus struct {
	Every
	Counts []int64            `json:"counts"`
	Notes  map[string]Address `json:"notes"`
}

// FuzzDecode feeds arbitrary bytes to plain and Confluent decoders of a record with every kind
// of field, the Confluent one with a writer schema of more fields under ID 2: each must return a
// value or a *format.RecordError holding the input, never panic or hang, and whatever decodes
// must encode to a record that decodes to the same value.
func FuzzDecode(f *testing.F) {
	schema, err := avro.SchemaOf[Every]()
	if err != nil {
		f.Fatal(err)
	}
	plusSchema, err := avro.SchemaOf[everyPlus]()
	if err != nil {
		f.Fatal(err)
	}
	reg := avro.MemoryRegistry{1: schema, 2: plusSchema}
	plain, err := avro.NewDecoder[Every](avro.Options{}) // the default limits
	if err != nil {
		f.Fatal(err)
	}
	confluent, err := avro.NewDecoder[Every](avro.Options{Framing: avro.Confluent, Registry: reg, MaxBytes: 1 << 16, MaxItems: 1 << 12})
	if err != nil {
		f.Fatal(err)
	}
	enc, err := avro.NewEncoder[Every](avro.Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []Every{every(), {}} {
		b, err := enc.Append(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(append([]byte{0, 0, 0, 0, 1}, b...))
		f.Add(b[:len(b)/2])
	}
	plusEnc, err := avro.NewEncoder[everyPlus](avro.Options{Framing: avro.Confluent, SchemaID: 2})
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []everyPlus{{Every: every(), Counts: []int64{1, -2}, Notes: map[string]Address{"n": {City: "Bern"}}}, {}} {
		b, err := plusEnc.Append(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		if got, rerr := confluent.Decode(b, format.Position{}); rerr != nil || got.S != v.S {
			f.Fatalf("a record of ID 2 decoded as %+v, %v", got, rerr)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, dec := range []*avro.Decoder[Every]{plain, confluent} {
			v, rerr := dec.Decode(raw, format.Position{Source: "fuzz", Offset: 0})
			if rerr != nil {
				if rerr.Format != "avro" || !bytes.Equal(rerr.Raw, raw) || rerr.Err == nil {
					t.Fatalf("bad error %#v", rerr)
				}
				continue
			}
			b, err := enc.Append(nil, v)
			if err != nil {
				t.Fatalf("decoded %+v does not encode: %v", v, err)
			}
			if _, rerr := plain.Decode(b, format.Position{}); rerr != nil {
				t.Fatalf("re-encoded %+v does not decode: %v", v, rerr)
			}
		}
	})
}

// FuzzFileReader feeds arbitrary bytes, seeded with valid files, to the container file reader:
// it must read records or return an error naming the file, never panic or hang.
func FuzzFileReader(f *testing.F) {
	for _, codec := range []string{"null", "deflate", "snappy", "zstandard"} {
		var buf bytes.Buffer
		w, err := avro.NewFileWriter[Bid](&buf, avro.FileOptions{Codec: codec, BlockLength: 3})
		if err != nil {
			f.Fatal(err)
		}
		for i := range 7 {
			_ = w.WriteOne(Bid{Auction: int64(i), Bidder: "b", Tags: []string{"t"}})
		}
		_ = w.Close()
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := avro.NewFileReader[Bid](bytes.NewReader(raw), "fuzz.avro")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.avro") {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		defer r.Close()
		rows := make([]Bid, 4)
		for range 1000 {
			_, err := r.Read(rows)
			if err != nil {
				if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "fuzz.avro") {
					t.Fatalf("error %v does not name the file", err)
				}
				return
			}
		}
	})
}
