package kinesis

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
)

func TestSplitCodecRoundTrip(t *testing.T) {
	src := &Source{}
	ts := time.Date(2026, 11, 25, 10, 0, 0, 123, time.UTC)
	tests := []connector.Split{
		&Split{ShardID: "shardId-000000000000"},
		&Split{ShardID: "shardId-000000000002", Parents: []string{"shardId-000000000000", "shardId-000000000001"},
			Start: StartPosition{Kind: AtTimestamp, Timestamp: ts}, SequenceNumber: "49590338271490256608559692538361571095921575989136588898"},
		&Split{ShardID: "shardId-000000000003", Start: StartPosition{Kind: Latest}, Finished: true},
		&enumState{assigned: map[string]int{"shardId-000000000000": 1, "shardId-000000000001": notRead}},
		&enumState{assigned: map[string]int{}},
	}
	for _, sp := range tests {
		b, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatalf("encoding %+v: %v", sp, err)
		}
		got, err := src.DecodeSplit(b)
		if err != nil {
			t.Fatalf("decoding %+v: %v", sp, err)
		}
		if !reflect.DeepEqual(got, sp) {
			t.Errorf("round trip of %+v gave %+v", sp, got)
		}
	}
}

func TestSplitCodecRejects(t *testing.T) {
	src := &Source{}
	good, err := src.EncodeSplit(&Split{ShardID: "shardId-000000000000", SequenceNumber: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{9}, good[1:]...),
		"kind":          {splitVersion, 7},
		"truncated":     good[:len(good)-2],
		"trailing":      append(append([]byte{}, good...), 0),
		"empty shard":   {splitVersion, kindShard, 0, 0, 0, 0, 0, 0},
		"huge parents":  {splitVersion, kindShard, 1, 'a', 0xff, 0xff, 0x03},
		"start kind":    {splitVersion, kindShard, 1, 'a', 0, 9, 0, 0, 0},
		"huge enum len": {splitVersion, kindEnum, 0xff, 0xff, 0x03},
	} {
		if _, err := src.DecodeSplit(b); !errors.Is(err, ErrBadSplit) {
			t.Errorf("%s: got %v, want ErrBadSplit", name, err)
		}
	}
	if _, err := src.EncodeSplit(nil); err == nil {
		t.Error("encoding a nil split succeeded")
	}
}

func FuzzDecodeSplit(f *testing.F) {
	src := &Source{}
	for _, sp := range []connector.Split{
		&Split{ShardID: "s", Parents: []string{"p"}, SequenceNumber: "42", Finished: true},
		&enumState{assigned: map[string]int{"a": 1}},
	} {
		b, _ := src.EncodeSplit(sp)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := src.DecodeSplit(b)
		if err != nil {
			return
		}
		again, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", sp, err)
		}
		sp2, err := src.DecodeSplit(again)
		if err != nil || !reflect.DeepEqual(sp, sp2) {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", sp, sp2, err)
		}
	})
}
