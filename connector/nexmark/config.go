package nexmark

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultBaseTime is the event time of event 0 when Config.BaseTime is zero:
// 2026-01-01T00:00:00Z in epoch milliseconds.
const DefaultBaseTime int64 = 1_767_225_600_000

// Defaults of the Config fields whose zero value means "use the default". They are Nexmark's.
const (
	// DefaultEventsPerSecond is the default Config.EventsPerSecond.
	DefaultEventsPerSecond = 10_000
	// DefaultNumActivePeople is the default Config.NumActivePeople.
	DefaultNumActivePeople = 1000
	// DefaultNumInFlightAuctions is the default Config.NumInFlightAuctions.
	DefaultNumInFlightAuctions = 100
	// DefaultHotAuctionRatio is the default Config.HotAuctionRatio: half the bids go to the hot
	// auction.
	DefaultHotAuctionRatio = 2
	// DefaultHotSellersRatio is the default Config.HotSellersRatio.
	DefaultHotSellersRatio = 4
	// DefaultHotBiddersRatio is the default Config.HotBiddersRatio.
	DefaultHotBiddersRatio = 4
	// DefaultAvgPersonByteSize is the default Config.AvgPersonByteSize.
	DefaultAvgPersonByteSize = 200
	// DefaultAvgAuctionByteSize is the default Config.AvgAuctionByteSize.
	DefaultAvgAuctionByteSize = 500
	// DefaultAvgBidByteSize is the default Config.AvgBidByteSize.
	DefaultAvgBidByteSize = 100
)

// MaxAvgByteSize is the largest Avg*ByteSize a Config may ask for; it bounds the preallocated
// text Extra is cut from.
const MaxAvgByteSize = 1 << 16

// maxWindow bounds the window and lead sizes, far above any useful value, so that the
// generator's id arithmetic cannot overflow.
const maxWindow = 1 << 30

// ErrInvalidConfig is wrapped by the errors Config.Validate returns.
var ErrInvalidConfig = errors.New("nexmark: invalid config")

// Config describes a Nexmark event stream. The zero Config is valid and gives Nexmark's default
// stream from seed 0; every field whose zero value is not meaningful documents its default.
type Config struct {
	// Seed selects the stream. Streams of different seeds have the same kinds of event, ids and
	// times, and different random content. Zero is a valid seed.
	Seed int64

	// BaseTime is the event time of event 0 in epoch milliseconds. Zero means DefaultBaseTime,
	// so that output is the same on every run.
	BaseTime int64

	// EventsPerSecond is the event-time rate: event n happens at
	// BaseTime + n*1000/EventsPerSecond (integer division, milliseconds). It does not limit how
	// fast events are generated. Zero means DefaultEventsPerSecond.
	EventsPerSecond int

	// NumActivePeople is how many of the newest persons a non-hot seller or bidder is drawn
	// from. Zero means DefaultNumActivePeople.
	NumActivePeople int

	// NumInFlightAuctions is how many of the newest auctions a non-hot bid is drawn from; it
	// also sets the average auction length. Zero means DefaultNumInFlightAuctions.
	NumInFlightAuctions int

	// HotAuctionRatio makes a bid go to the hot auction with probability 1-1/HotAuctionRatio;
	// 1 disables hot auctions. Zero means DefaultHotAuctionRatio.
	HotAuctionRatio int

	// HotSellersRatio makes an auction's seller the hot seller with probability
	// 1-1/HotSellersRatio; 1 disables hot sellers. Zero means DefaultHotSellersRatio.
	HotSellersRatio int

	// HotBiddersRatio makes a bid's bidder the hot bidder with probability
	// 1-1/HotBiddersRatio; 1 disables hot bidders. Zero means DefaultHotBiddersRatio.
	HotBiddersRatio int

	// AvgPersonByteSize, AvgAuctionByteSize and AvgBidByteSize are the average record sizes
	// Extra pads to, counting 8 bytes per integer field plus the length of each string. A size
	// below a record's fixed fields (1, say) turns padding off. Zero means
	// DefaultAvgPersonByteSize, DefaultAvgAuctionByteSize and DefaultAvgBidByteSize; at most
	// MaxAvgByteSize.
	AvgPersonByteSize  int
	AvgAuctionByteSize int
	AvgBidByteSize     int

	// PersonIDLead and AuctionIDLead let a non-hot reference name up to that many persons or
	// auctions beyond the newest one generated so far, as if events arrived slightly out of
	// order. The default, 0, makes every reference name an existing record; Nexmark uses 10.
	PersonIDLead  int
	AuctionIDLead int
}

// Validate reports whether c describes a stream. The error wraps ErrInvalidConfig and names
// every field out of range.
func (c Config) Validate() error {
	var problems []string
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			problems = append(problems, fmt.Sprintf("%s is %d, want %d..%d", name, v, lo, hi))
		}
	}
	check("EventsPerSecond", c.EventsPerSecond, 0, maxWindow)
	check("NumActivePeople", c.NumActivePeople, 0, maxWindow)
	check("NumInFlightAuctions", c.NumInFlightAuctions, 0, maxWindow)
	check("HotAuctionRatio", c.HotAuctionRatio, 0, maxWindow)
	check("HotSellersRatio", c.HotSellersRatio, 0, maxWindow)
	check("HotBiddersRatio", c.HotBiddersRatio, 0, maxWindow)
	check("AvgPersonByteSize", c.AvgPersonByteSize, 0, MaxAvgByteSize)
	check("AvgAuctionByteSize", c.AvgAuctionByteSize, 0, MaxAvgByteSize)
	check("AvgBidByteSize", c.AvgBidByteSize, 0, MaxAvgByteSize)
	check("PersonIDLead", c.PersonIDLead, 0, maxWindow)
	check("AuctionIDLead", c.AuctionIDLead, 0, maxWindow)
	if problems != nil {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return nil
}

// withDefaults returns c with every zero field that has a default set to it.
func (c Config) withDefaults() Config {
	orDefault := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if c.BaseTime == 0 {
		c.BaseTime = DefaultBaseTime
	}
	orDefault(&c.EventsPerSecond, DefaultEventsPerSecond)
	orDefault(&c.NumActivePeople, DefaultNumActivePeople)
	orDefault(&c.NumInFlightAuctions, DefaultNumInFlightAuctions)
	orDefault(&c.HotAuctionRatio, DefaultHotAuctionRatio)
	orDefault(&c.HotSellersRatio, DefaultHotSellersRatio)
	orDefault(&c.HotBiddersRatio, DefaultHotBiddersRatio)
	orDefault(&c.AvgPersonByteSize, DefaultAvgPersonByteSize)
	orDefault(&c.AvgAuctionByteSize, DefaultAvgAuctionByteSize)
	orDefault(&c.AvgBidByteSize, DefaultAvgBidByteSize)
	return c
}
