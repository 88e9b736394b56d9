package kafka

import (
	"errors"
	"reflect"
	"testing"

	"github.com/runnel-io/runnel/connector"
)

func testSource(t testing.TB) *Source[Record] {
	s, err := NewSource(SourceConfig{Cluster: Cluster{Brokers: []string{"localhost:9092"}}, Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSplitCodecRoundTrip(t *testing.T) {
	s := testSource(t)
	for _, sp := range []connector.Split{
		&Split{Topic: "orders", Partition: 3, Next: 12345, End: -1},
		&Split{Topic: "a-b-1", Partition: 0, Next: 0, End: 99},
		&knownSplit{ids: []string{"a-0", "a-1", "b-0"}},
		&knownSplit{ids: []string{}},
	} {
		b, err := s.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.DecodeSplit(b)
		if err != nil {
			t.Fatalf("decoding %+v: %v", sp, err)
		}
		if !reflect.DeepEqual(got, sp) {
			t.Fatalf("round trip of %+v gave %+v", sp, got)
		}
	}
	for _, b := range [][]byte{nil, {1}, {2, 1}, {1, 9}, {1, 1, 5, 'a'}} {
		if _, err := s.DecodeSplit(b); !errors.Is(err, ErrBadSplit) {
			t.Fatalf("decoding %v: %v, want ErrBadSplit", b, err)
		}
	}
}

func FuzzDecodeSplit(f *testing.F) {
	s := testSource(f)
	for _, sp := range []connector.Split{&Split{Topic: "t", Partition: 1, Next: 5, End: -1}, &knownSplit{ids: []string{"t-0"}}} {
		b, _ := s.EncodeSplit(sp)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := s.DecodeSplit(b)
		if err != nil {
			return
		}
		again, err := s.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		sp2, err := s.DecodeSplit(again)
		if err != nil || !reflect.DeepEqual(sp, sp2) {
			t.Fatalf("re-encoding %+v: %+v, %v", sp, sp2, err)
		}
	})
}

func TestTxnIDs(t *testing.T) {
	id := txnID("my-job", 4, 2, 17)
	p, sub, seq, ok := parseTxnID("my-job", id)
	if !ok || p != 4 || sub != 2 || seq != 17 {
		t.Fatalf("parse(%q) = %d %d %d %v", id, p, sub, seq, ok)
	}
	for _, bad := range []string{"my-job-4-2", "other-4-2-1", "my-job-x-2-1", "my-job-4-2-1-9"} {
		if _, _, _, ok := parseTxnID("my-job", bad); ok {
			t.Fatalf("parsed %q", bad)
		}
	}
}

func TestMechanisms(t *testing.T) {
	for _, m := range []Mechanism{Plain, ScramSHA256, ScramSHA512, AWSMSKIAM} {
		c := Cluster{Brokers: []string{"b:9098"}, SASL: SASL{Mechanism: m, User: "u", Password: "p"}}
		if err := c.validate("test"); err != nil {
			t.Fatal(err)
		}
		if got := c.mechanism().Name(); got != string(m) {
			t.Fatalf("mechanism %s: got %s", m, got)
		}
	}
	if err := (&Cluster{Brokers: []string{"b"}, SASL: SASL{Mechanism: "GSSAPI"}}).validate("test"); err == nil {
		t.Fatal("accepted an unknown mechanism")
	}
}
