package nexmark

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"
)

func newGenerator(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	return g
}

func sequential(g *Generator, count int64) []Event {
	events := make([]Event, count)
	for n := range count {
		events[n] = g.Event(n)
	}
	return events
}

func TestEventIsDeterministic(t *testing.T) {
	cfg := Config{Seed: 42}
	a, b := newGenerator(t, cfg), newGenerator(t, cfg)
	for _, n := range []int64{0, 1, 3, 4, 49, 50, 12_345, 1 << 40} {
		first := a.Event(n)
		if again := a.Event(n); !reflect.DeepEqual(first, again) {
			t.Errorf("event %d differs between two calls:\n%+v\n%+v", n, first, again)
		}
		if other := b.Event(n); !reflect.DeepEqual(first, other) {
			t.Errorf("event %d differs between two generators:\n%+v\n%+v", n, first, other)
		}
	}
}

func TestSeedsGiveDifferentEvents(t *testing.T) {
	a, b := newGenerator(t, Config{Seed: 0}), newGenerator(t, Config{Seed: 1})
	const count = 1000
	same := 0
	for n := range int64(count) {
		ea, eb := a.Event(n), b.Event(n)
		if ea.Type != eb.Type || ea.Time() != eb.Time() {
			t.Fatalf("event %d: kind or time depends on the seed: %+v vs %+v", n, ea, eb)
		}
		if reflect.DeepEqual(ea, eb) {
			same++
		}
	}
	if same > count/100 {
		t.Errorf("%d of %d events are equal under seeds 0 and 1", same, count)
	}
}

// TestRangesInAnyOrderEqualSequential generates the events of a sequential run again as
// shuffled ranges, concurrently, from one shared and several private generators.
func TestRangesInAnyOrderEqualSequential(t *testing.T) {
	cfg := Config{Seed: 7, NumActivePeople: 50, NumInFlightAuctions: 20}
	const count = 20_000
	want := sequential(newGenerator(t, cfg), count)

	shuffle := rand.New(rand.NewPCG(1, 2))
	type span struct{ from, to int64 }
	var spans []span
	for from := int64(0); from < count; {
		to := min(from+1+shuffle.Int64N(700), count)
		spans = append(spans, span{from, to})
		from = to
	}
	shuffle.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })

	shared := newGenerator(t, cfg)
	got := make([]Event, count)
	const workers = 4
	var wg sync.WaitGroup
	for w := range workers {
		g := shared
		if w%2 == 1 {
			g = newGenerator(t, cfg)
		}
		wg.Go(func() {
			var s Scratch
			var e Event
			for i := w; i < len(spans); i += workers {
				sp := spans[i]
				for n := sp.to - 1; n >= sp.from; n-- { // backwards, for good measure
					if w < 2 {
						got[n] = g.Event(n)
						continue
					}
					g.Fill(n, &e, &s)
					got[n] = deepCopy(e)
				}
			}
		})
	}
	wg.Wait()
	for n := range want {
		if !reflect.DeepEqual(want[n], got[n]) {
			t.Fatalf("event %d from ranges differs from the sequential run:\n%+v\n%+v", n, got[n], want[n])
		}
	}
}

func deepCopy(e Event) Event {
	switch {
	case e.Person != nil:
		p := *e.Person
		e.Person = &p
	case e.Auction != nil:
		a := *e.Auction
		e.Auction = &a
	case e.Bid != nil:
		b := *e.Bid
		e.Bid = &b
	}
	return e
}

func TestProportionsPerBlockOf50(t *testing.T) {
	g := newGenerator(t, Config{})
	for block := range int64(200) {
		var counts [3]int
		for n := block * 50; n < (block+1)*50; n++ {
			typ := g.Type(n)
			e := g.Event(n)
			if e.Type != typ {
				t.Fatalf("event %d: Type says %v, Event made a %v", n, typ, e.Type)
			}
			set := 0
			for _, isSet := range []bool{e.Person != nil, e.Auction != nil, e.Bid != nil} {
				if isSet {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("event %d has %d records set, want 1: %+v", n, set, e)
			}
			counts[typ]++
		}
		if counts != [3]int{1, 3, 46} {
			t.Fatalf("block %d has person:auction:bid = %v, want [1 3 46]", block, counts)
		}
	}
	if typ := g.Type(50<<40 + 1); typ != AuctionEvent {
		t.Errorf("Type(50<<40 + 1) = %v, want auction", typ)
	}
}

// TestStreamInvariants checks a long sequential run: ids are dense, references name records
// that already exist, times never decrease and every field is in range.
func TestStreamInvariants(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"no hot records", Config{Seed: 3, HotAuctionRatio: 1, HotSellersRatio: 1, HotBiddersRatio: 1}},
		{"small windows", Config{Seed: 4, NumActivePeople: 1, NumInFlightAuctions: 1, EventsPerSecond: 7}},
		{"always hot", Config{Seed: 5, HotAuctionRatio: 1 << 30, HotSellersRatio: 1 << 30, HotBiddersRatio: 1 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGenerator(t, tc.cfg)
			checkStream(t, g, 0, 0, 300_000)
		})
	}
}

// checkStream generates events 0..count-1 and checks them, allowing references up to
// personLead and auctionLead beyond the newest record.
func checkStream(t *testing.T, g *Generator, personLead, auctionLead int64, count int64) {
	t.Helper()
	nextPerson, nextAuction := FirstPersonID, FirstAuctionID
	prevTime := g.Config().BaseTime
	var s Scratch
	var e Event
	for n := range count {
		g.Fill(n, &e, &s)
		now := e.Time()
		if now < prevTime {
			t.Fatalf("event %d at %d is before event %d at %d", n, now, n-1, prevTime)
		}
		if now != g.Time(n) {
			t.Fatalf("event %d: DateTime %d, Time(n) %d", n, now, g.Time(n))
		}
		prevTime = now
		lastPerson, lastAuction := nextPerson-1, nextAuction-1
		switch e.Type {
		case PersonEvent:
			p := e.Person
			if p.ID != nextPerson {
				t.Fatalf("event %d: person id %d, want %d", n, p.ID, nextPerson)
			}
			nextPerson++
			if p.Name == "" || p.EmailAddress == "" || len(p.CreditCard) != 19 || p.City == "" || len(p.State) != 2 {
				t.Fatalf("event %d: person has a bad field: %+v", n, p)
			}
		case AuctionEvent:
			a := e.Auction
			if a.ID != nextAuction {
				t.Fatalf("event %d: auction id %d, want %d", n, a.ID, nextAuction)
			}
			nextAuction++
			if a.Seller < FirstPersonID || a.Seller > lastPerson+personLead {
				t.Fatalf("event %d: seller %d, want %d..%d", n, a.Seller, FirstPersonID, lastPerson+personLead)
			}
			if a.Expires <= a.DateTime {
				t.Fatalf("event %d: auction expires at %d, not after %d", n, a.Expires, a.DateTime)
			}
			if a.Category < FirstCategoryID || a.Category >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: category %d", n, a.Category)
			}
			if a.InitialBid < 100 || a.Reserve <= a.InitialBid {
				t.Fatalf("event %d: initial bid %d, reserve %d", n, a.InitialBid, a.Reserve)
			}
		case BidEvent:
			b := e.Bid
			if b.Auction < FirstAuctionID || b.Auction > lastAuction+auctionLead {
				t.Fatalf("event %d: bid on auction %d, want %d..%d", n, b.Auction, FirstAuctionID, lastAuction+auctionLead)
			}
			if b.Auction < lastAuction-int64(g.Config().NumInFlightAuctions) && b.Auction != (lastAuction-FirstAuctionID)/100*100+FirstAuctionID {
				t.Fatalf("event %d: bid on auction %d, neither in flight nor hot (newest %d)", n, b.Auction, lastAuction)
			}
			if b.Bidder < FirstPersonID || b.Bidder > lastPerson+personLead {
				t.Fatalf("event %d: bidder %d, want %d..%d", n, b.Bidder, FirstPersonID, lastPerson+personLead)
			}
			if b.Price < 100 || b.Price > 100_000_000 || b.Channel == "" || b.URL == "" {
				t.Fatalf("event %d: bad bid %+v", n, b)
			}
		}
	}
}

func TestIDLeadsReachAhead(t *testing.T) {
	g := newGenerator(t, Config{PersonIDLead: 10, AuctionIDLead: 10, HotAuctionRatio: 1, HotBiddersRatio: 1, HotSellersRatio: 1})
	checkStream(t, g, 10, 10, 100_000)

	ahead := 0
	var b Bid
	for n := int64(4); n < 100_000; n += 50 {
		g.FillBid(n, &b)
		if b.Auction > FirstAuctionID+lastAuction(n) {
			ahead++
		}
	}
	if ahead == 0 {
		t.Error("AuctionIDLead 10: no bid names a future auction")
	}
}

func TestHotRatios(t *testing.T) {
	hotShare := func(cfg Config) float64 {
		g := newGenerator(t, cfg)
		hot, bids := 0, 0
		var b Bid
		for n := range int64(200_000) {
			if g.Type(n) != BidEvent {
				continue
			}
			g.FillBid(n, &b)
			bids++
			if b.Auction == FirstAuctionID+lastAuction(n)/100*100 {
				hot++
			}
		}
		return float64(hot) / float64(bids)
	}
	// The hot auction gets 1-1/2 of the bids plus its share of the rest.
	if got := hotShare(Config{}); got < 0.48 || got > 0.56 {
		t.Errorf("default HotAuctionRatio: %.3f of bids on the hot auction, want about 0.5", got)
	}
	if got := hotShare(Config{HotAuctionRatio: 1}); got > 0.05 {
		t.Errorf("HotAuctionRatio 1: %.3f of bids on the hot auction, want about 0.01", got)
	}
}

func TestRecordSizesAverageConfigured(t *testing.T) {
	for _, cfg := range []Config{{}, {Seed: 9, AvgPersonByteSize: 1000, AvgAuctionByteSize: 2000, AvgBidByteSize: 60}} {
		g := newGenerator(t, cfg)
		cfg = g.Config()
		var sums, counts [3]float64
		for n := range int64(500_000) {
			e := g.Event(n)
			var size int
			switch e.Type {
			case PersonEvent:
				p := e.Person
				size = 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
			case AuctionEvent:
				a := e.Auction
				size = 8 + len(a.ItemName) + len(a.Description) + 40 + len(a.Extra)
			case BidEvent:
				size = 32 + len(e.Bid.Extra)
			}
			sums[e.Type] += float64(size)
			counts[e.Type]++
		}
		for typ, want := range []int{cfg.AvgPersonByteSize, cfg.AvgAuctionByteSize, cfg.AvgBidByteSize} {
			got := sums[typ] / counts[typ]
			if got < 0.98*float64(want) || got > 1.02*float64(want) {
				t.Errorf("%+v: %v records average %.1f bytes, want %d", cfg, EventType(typ), got, want)
			}
		}
	}
}

func TestPaddingOff(t *testing.T) {
	g := newGenerator(t, Config{AvgPersonByteSize: 1, AvgAuctionByteSize: 1, AvgBidByteSize: 1})
	for n := range int64(500) {
		e := g.Event(n)
		var extra string
		switch e.Type {
		case PersonEvent:
			extra = e.Person.Extra
		case AuctionEvent:
			extra = e.Auction.Extra
		case BidEvent:
			extra = e.Bid.Extra
		}
		if extra != "" {
			t.Fatalf("event %d (%v) has padding %q", n, e.Type, extra)
		}
	}
}

func TestTime(t *testing.T) {
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(); DefaultBaseTime != want {
		t.Errorf("DefaultBaseTime = %d, want %d", DefaultBaseTime, want)
	}
	for _, tc := range []struct {
		cfg     Config
		n, want int64
	}{
		{Config{}, 0, DefaultBaseTime},
		{Config{}, 9, DefaultBaseTime},
		{Config{}, 10, DefaultBaseTime + 1},
		{Config{}, 10_000, DefaultBaseTime + 1000},
		{Config{BaseTime: 5, EventsPerSecond: 3}, 1, 5 + 333},
		{Config{BaseTime: 5, EventsPerSecond: 3}, 2, 5 + 666},
		{Config{BaseTime: 5, EventsPerSecond: 3}, 3, 5 + 1000},
		{Config{BaseTime: -1000, EventsPerSecond: 1}, 1, 0},
		// n*1000 would overflow int64.
		{Config{BaseTime: 1, EventsPerSecond: 1000}, 1 << 60, 1 + 1<<60},
	} {
		g := newGenerator(t, tc.cfg)
		if got := g.Time(tc.n); got != tc.want {
			t.Errorf("%+v: Time(%d) = %d, want %d", tc.cfg, tc.n, got, tc.want)
		}
		if got := g.Event(tc.n); got.Time() != tc.want {
			t.Errorf("%+v: Event(%d).Time() = %d, want %d", tc.cfg, tc.n, got.Time(), tc.want)
		}
	}
}

func TestFillVariantsMatchEvent(t *testing.T) {
	g := newGenerator(t, Config{Seed: -5})
	var s Scratch
	var e Event
	var p Person
	var a Auction
	var b Bid
	for n := range int64(500) {
		want := g.Event(n)
		g.Fill(n, &e, &s)
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("Fill(%d) = %+v, Event = %+v", n, e, want)
		}
		var got any
		switch want.Type {
		case PersonEvent:
			g.FillPerson(n, &p)
			got = &p
		case AuctionEvent:
			g.FillAuction(n, &a)
			got = &a
		case BidEvent:
			g.FillBid(n, &b)
			got = &b
		}
		if wantRecord := reflect.ValueOf(want).Field(1 + int(want.Type)).Interface(); !reflect.DeepEqual(got, wantRecord) {
			t.Fatalf("Fill%v(%d) = %+v, want %+v", want.Type, n, got, wantRecord)
		}
	}
}

func TestAllocations(t *testing.T) {
	g := newGenerator(t, Config{})
	var s Scratch
	var e Event
	n := int64(0)
	if allocs := testing.AllocsPerRun(1000, func() { g.Fill(n, &e, &s); n++ }); allocs != 0 {
		t.Errorf("Fill: %v allocations per event, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(1000, func() { e = g.Event(n); n++ }); allocs != 1 {
		t.Errorf("Event: %v allocations per event, want 1", allocs)
	}
}

func TestMisusePanics(t *testing.T) {
	g := newGenerator(t, Config{})
	for name, f := range map[string]func(){
		"negative Event":    func() { g.Event(-1) },
		"negative Type":     func() { g.Type(-50) },
		"negative Time":     func() { g.Time(-1) },
		"FillBid on person": func() { g.FillBid(0, new(Bid)) },
		"FillPerson on bid": func() { g.FillPerson(4, new(Person)) },
		"FillAuction on 49": func() { g.FillAuction(49, new(Auction)) },
		"Time of bad type":  func() { (&Event{Type: 3}).Time() },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			f()
		})
	}
}

func TestGeneratorConfigFillsDefaults(t *testing.T) {
	got := newGenerator(t, Config{Seed: 3, HotBiddersRatio: 9}).Config()
	want := Config{
		Seed: 3, BaseTime: DefaultBaseTime, EventsPerSecond: DefaultEventsPerSecond,
		NumActivePeople: DefaultNumActivePeople, NumInFlightAuctions: DefaultNumInFlightAuctions,
		HotAuctionRatio: DefaultHotAuctionRatio, HotSellersRatio: DefaultHotSellersRatio, HotBiddersRatio: 9,
		AvgPersonByteSize: DefaultAvgPersonByteSize, AvgAuctionByteSize: DefaultAvgAuctionByteSize, AvgBidByteSize: DefaultAvgBidByteSize,
	}
	if got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := newGenerator(b, Config{})
	b.Run("Fill", func(b *testing.B) {
		var s Scratch
		var e Event
		var sink int64
		for n := int64(0); b.Loop(); n++ {
			g.Fill(n, &e, &s)
			sink += e.Time()
		}
		_ = sink
	})
	b.Run("Event", func(b *testing.B) {
		var sink int64
		for n := int64(0); b.Loop(); n++ {
			e := g.Event(n)
			sink += e.Time()
		}
		_ = sink
	})
	b.Run("Parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var s Scratch
			var e Event
			n := rand.Int64N(1 << 40)
			for pb.Next() {
				g.Fill(n, &e, &s)
				n++
			}
		})
	})
	var (
		person  Person
		auction Auction
		bid     Bid
	)
	kinds := []struct {
		typ  EventType
		fill func(n int64)
	}{
		{PersonEvent, func(n int64) { g.FillPerson(n, &person) }},
		{AuctionEvent, func(n int64) { g.FillAuction(n, &auction) }},
		{BidEvent, func(n int64) { g.FillBid(n, &bid) }},
	}
	for _, k := range kinds {
		b.Run(k.typ.String(), func(b *testing.B) {
			n := int64(0)
			for b.Loop() {
				for g.Type(n) != k.typ {
					n++
				}
				k.fill(n)
				n++
			}
		})
	}
}

func TestNextPriceIsLogUniform(t *testing.T) {
	r := rng{state: 1}
	var decades [priceDecades]int
	const draws = 600_000
	for range draws {
		p := nextPrice(&r)
		if p < 100 || p > 100_000_000 {
			t.Fatalf("price %d out of [100, 1e8]", p)
		}
		decade := 0
		for q := p / 100; q >= 10 && decade < priceDecades-1; q /= 10 {
			decade++
		}
		decades[decade]++
	}
	for d, got := range decades {
		if got < draws/priceDecades*95/100 || got > draws/priceDecades*105/100 {
			t.Errorf("%d of %d prices in decade %d, want about %d", got, draws, d, draws/priceDecades)
		}
	}
	// The fast exponential agrees with math.Pow.
	for _, x := range []float64{0, 1e-9, 0.6, 1.5, 2, 3.3, 5.999999, 6, 18.5} {
		if got, want := pow10(x), math.Pow(10, x); math.Abs(got-want) > want*1e-13 {
			t.Errorf("pow10(%v) = %v, math.Pow gives %v", x, got, want)
		}
	}
}
