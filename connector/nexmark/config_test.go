package nexmark

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		// wantErr lists substrings the error must contain; nil means valid.
		wantErr []string
	}{
		{"zero", Config{}, nil},
		{"negative seed and base time", Config{Seed: -1, BaseTime: -1}, nil},
		{"explicit values", Config{EventsPerSecond: 1, NumActivePeople: 1, NumInFlightAuctions: 1, HotAuctionRatio: 1, HotSellersRatio: 1, HotBiddersRatio: 1, PersonIDLead: 10, AuctionIDLead: 10}, nil},
		{"largest sizes", Config{AvgPersonByteSize: MaxAvgByteSize, AvgAuctionByteSize: MaxAvgByteSize, AvgBidByteSize: MaxAvgByteSize}, nil},
		{"negative rate", Config{EventsPerSecond: -1}, []string{"EventsPerSecond is -1"}},
		{"negative windows", Config{NumActivePeople: -1, NumInFlightAuctions: -2}, []string{"NumActivePeople is -1", "NumInFlightAuctions is -2"}},
		{"negative ratios", Config{HotAuctionRatio: -1, HotSellersRatio: -1, HotBiddersRatio: -1}, []string{"HotAuctionRatio", "HotSellersRatio", "HotBiddersRatio"}},
		{"oversized records", Config{AvgPersonByteSize: MaxAvgByteSize + 1, AvgAuctionByteSize: -1, AvgBidByteSize: 1 << 20}, []string{"AvgPersonByteSize is 65537", "AvgAuctionByteSize is -1", "AvgBidByteSize is 1048576"}},
		{"negative leads", Config{PersonIDLead: -1, AuctionIDLead: -1}, []string{"PersonIDLead", "AuctionIDLead"}},
		{"huge window", Config{NumInFlightAuctions: 1 << 40}, []string{"NumInFlightAuctions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			_, genErr := NewGenerator(tc.cfg)
			if tc.wantErr == nil {
				if err != nil || genErr != nil {
					t.Fatalf("Validate = %v, NewGenerator = %v, want no error", err, genErr)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			if !errors.Is(err, ErrInvalidConfig) || !errors.Is(genErr, ErrInvalidConfig) {
				t.Errorf("Validate = %v, NewGenerator = %v, want both to wrap ErrInvalidConfig", err, genErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}
