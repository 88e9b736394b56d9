package nexmark

import (
	"math"
	"strconv"
)

// Id offsets and the category range. Nexmark starts ids above zero so that queries find matches
// even on small data sets.
const (
	// FirstPersonID is the id of the first person.
	FirstPersonID int64 = 1000
	// FirstAuctionID is the id of the first auction.
	FirstAuctionID int64 = 1000
	// FirstCategoryID is the smallest auction category.
	FirstCategoryID int64 = 10
	// NumCategories is how many categories auctions fall in.
	NumCategories = 5
)

// The mix of event kinds: in every block of totalProportion events the first personProportion
// are persons, the next auctionProportion auctions and the rest bids.
const (
	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	totalProportion   = personProportion + auctionProportion + bidProportion
)

const (
	// hotBatch is the size of the id batches hot references point into: the hot auction and
	// seller are the first id of the latest batch, the hot bidder the second.
	hotBatch = 100
	// hotChannelsRatio makes a bid come from a hot channel with probability 1-1/hotChannelsRatio.
	hotChannelsRatio = 2
	// minStringLen is the shortest random item name or description before trimming.
	minStringLen = 3
	// Nexmark's item names and descriptions are shorter than these.
	maxItemNameLen    = 20
	maxDescriptionLen = 100
	// Prices are 100 × 10^u cents for u uniform in [0, priceDecades).
	priceDecades = 6
	// intSize is what an integer field counts for in a record's size.
	intSize = 8
)

// Generator produces the Nexmark event stream of one Config. Event n is a pure function of the
// Config and n, so any set of calls, in any order and from any number of goroutines, yields the
// same events as one sequential run. A Generator is immutable after NewGenerator and safe for
// concurrent use.
//
// Event numbers are non-negative; every method panics on a negative one, as on a programmer
// error. Strings in generated records are shared with the Generator's pools and with other
// events; they are immutable, so callers may keep them.
type Generator struct {
	cfg Config // with defaults applied
	key uint64 // mixed Config.Seed
	eps int64  // EventsPerSecond
	// auctionHorizon is how many events it takes to generate NumInFlightAuctions auctions.
	auctionHorizon int64
	t              *tables
}

// NewGenerator returns the generator of cfg's stream, or cfg.Validate's error.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Generator{
		cfg:            cfg,
		key:            mix64(uint64(cfg.Seed) + golden),
		eps:            int64(cfg.EventsPerSecond),
		auctionHorizon: int64(cfg.NumInFlightAuctions) * totalProportion / auctionProportion,
		t:              sharedTables(),
	}, nil
}

// Config returns the generator's configuration with every default filled in.
func (g *Generator) Config() Config { return g.cfg }

// Type returns the kind of event n without generating it: of every 50 events, the first is a
// person, the next three auctions and the remaining 46 bids.
func (g *Generator) Type(n int64) EventType {
	checkEventNumber(n)
	switch off := n % totalProportion; {
	case off < personProportion:
		return PersonEvent
	case off < personProportion+auctionProportion:
		return AuctionEvent
	default:
		return BidEvent
	}
}

// Time returns the event time of event n, BaseTime + n*1000/EventsPerSecond milliseconds,
// without generating it. It never decreases as n grows, so a source may derive watermarks
// from it.
func (g *Generator) Time(n int64) int64 {
	checkEventNumber(n)
	// Split n so that n*1000 cannot overflow.
	return g.cfg.BaseTime + n/g.eps*1000 + n%g.eps*1000/g.eps
}

// Event returns event n. It allocates the one record it returns; Fill allocates nothing.
func (g *Generator) Event(n int64) Event {
	switch typ := g.Type(n); typ {
	case PersonEvent:
		p := new(Person)
		g.fillPerson(n, p)
		return Event{Type: typ, Person: p}
	case AuctionEvent:
		a := new(Auction)
		g.fillAuction(n, a)
		return Event{Type: typ, Auction: a}
	default:
		b := new(Bid)
		g.fillBid(n, b)
		return Event{Type: typ, Bid: b}
	}
}

// Scratch is storage Fill reuses for the records it produces. Its zero value is ready to use. A
// Scratch must not be used by two goroutines at once.
type Scratch struct {
	person  Person
	auction Auction
	bid     Bid
}

// Fill sets *e to event n without allocating. The record e points to lives in s, so it is
// valid until the next Fill with the same s; copy it to keep it longer.
func (g *Generator) Fill(n int64, e *Event, s *Scratch) {
	switch typ := g.Type(n); typ {
	case PersonEvent:
		g.fillPerson(n, &s.person)
		*e = Event{Type: typ, Person: &s.person}
	case AuctionEvent:
		g.fillAuction(n, &s.auction)
		*e = Event{Type: typ, Auction: &s.auction}
	default:
		g.fillBid(n, &s.bid)
		*e = Event{Type: typ, Bid: &s.bid}
	}
}

// FillPerson overwrites *p with event n, which must be a person (see Type); it panics otherwise.
func (g *Generator) FillPerson(n int64, p *Person) {
	g.mustBe(n, PersonEvent)
	g.fillPerson(n, p)
}

// FillAuction overwrites *a with event n, which must be an auction (see Type); it panics
// otherwise.
func (g *Generator) FillAuction(n int64, a *Auction) {
	g.mustBe(n, AuctionEvent)
	g.fillAuction(n, a)
}

// FillBid overwrites *b with event n, which must be a bid (see Type); it panics otherwise.
// Sources that feed only bid queries can skip the other kinds this way.
func (g *Generator) FillBid(n int64, b *Bid) {
	g.mustBe(n, BidEvent)
	g.fillBid(n, b)
}

func (g *Generator) mustBe(n int64, want EventType) {
	if got := g.Type(n); got != want {
		panic("nexmark: event " + strconv.FormatInt(n, 10) + " is a " + got.String() + ", not a " + want.String())
	}
}

func checkEventNumber(n int64) {
	if n < 0 {
		panic("nexmark: negative event number " + strconv.FormatInt(n, 10))
	}
}

func (g *Generator) fillPerson(n int64, p *Person) {
	r := eventRNG(g.key, n)
	t := g.t
	name := t.names[r.intn(len(t.names))]
	email := t.emails[r.intn(len(t.emails))]
	card := t.cards[r.intn(len(t.cards))]
	city := usCities[r.intn(len(usCities))]
	state := usStates[r.intn(len(usStates))]
	size := intSize + len(name) + len(email) + len(card) + len(city) + len(state)
	*p = Person{
		ID:           FirstPersonID + lastPerson(n),
		Name:         name,
		EmailAddress: email,
		CreditCard:   card,
		City:         city,
		State:        state,
		DateTime:     g.Time(n),
		Extra:        g.extra(&r, size, g.cfg.AvgPersonByteSize),
	}
}

func (g *Generator) fillAuction(n int64, a *Auction) {
	r := eventRNG(g.key, n)
	var seller int64
	if r.intn(g.cfg.HotSellersRatio) > 0 {
		seller = lastPerson(n) / hotBatch * hotBatch
	} else {
		seller = g.randomPerson(&r, n)
	}
	category := FirstCategoryID + int64(r.intn(NumCategories))
	now := g.Time(n)
	// Auctions last on average as long as it takes to open NumInFlightAuctions more.
	horizon := g.Time(n+g.auctionHorizon) - now
	expires := now + 1 + r.int63n(max(2*horizon, 1))
	initialBid := nextPrice(&r)
	reserve := initialBid + nextPrice(&r)
	name := g.randomString(&r, maxItemNameLen)
	desc := g.randomString(&r, maxDescriptionLen)
	size := intSize + len(name) + len(desc) + 5*intSize
	*a = Auction{
		ID:          FirstAuctionID + lastAuction(n),
		ItemName:    name,
		Description: desc,
		InitialBid:  initialBid,
		Reserve:     reserve,
		DateTime:    now,
		Expires:     expires,
		Seller:      FirstPersonID + seller,
		Category:    category,
		Extra:       g.extra(&r, size, g.cfg.AvgAuctionByteSize),
	}
}

func (g *Generator) fillBid(n int64, b *Bid) {
	r := eventRNG(g.key, n)
	var auction int64
	if r.intn(g.cfg.HotAuctionRatio) > 0 {
		auction = lastAuction(n) / hotBatch * hotBatch
	} else {
		auction = g.randomAuction(&r, n)
	}
	var bidder int64
	if r.intn(g.cfg.HotBiddersRatio) > 0 {
		// The second person of the batch, so that hot bidders and hot sellers differ. Nexmark
		// takes it even before it exists; this waits for it.
		last := lastPerson(n)
		bidder = min(last/hotBatch*hotBatch+1, last)
	} else {
		bidder = g.randomPerson(&r, n)
	}
	price := nextPrice(&r)
	t := g.t
	var channel, url string
	if r.intn(hotChannelsRatio) > 0 {
		i := r.intn(len(hotChannels))
		channel, url = hotChannels[i], t.hotURLs[i]
	} else {
		k := r.intn(numChannels)
		channel, url = t.channels[k], t.channelURLs[k]
	}
	*b = Bid{
		Auction:  FirstAuctionID + auction,
		Bidder:   FirstPersonID + bidder,
		Price:    price,
		Channel:  channel,
		URL:      url,
		DateTime: g.Time(n),
		Extra:    g.extra(&r, 4*intSize, g.cfg.AvgBidByteSize),
	}
}

// lastPerson returns the zero-based id of the newest person at event n: n's own id if n is a
// person.
func lastPerson(n int64) int64 {
	block, off := n/totalProportion, n%totalProportion
	return block*personProportion + min(off, personProportion-1)
}

// lastAuction returns the zero-based id of the newest auction at event n: n's own id if n is an
// auction, and -1 before the first auction.
func lastAuction(n int64) int64 {
	block, off := n/totalProportion, n%totalProportion
	switch {
	case off < personProportion:
		// The newest auction is the last of the previous block.
		block, off = block-1, auctionProportion-1
	case off < personProportion+auctionProportion:
		off -= personProportion
	default:
		off = auctionProportion - 1
	}
	return block*auctionProportion + off
}

// randomPerson returns the zero-based id of one of the NumActivePeople newest persons at event n,
// or of up to PersonIDLead persons after them.
func (g *Generator) randomPerson(r *rng, n int64) int64 {
	people := lastPerson(n) + 1
	active := min(people, int64(g.cfg.NumActivePeople))
	return people - active + r.int63n(active+int64(g.cfg.PersonIDLead))
}

// randomAuction returns the zero-based id of one of the newest auctions at event n, from
// NumInFlightAuctions before the newest up to AuctionIDLead after it. n must be a bid, so that
// an auction exists.
func (g *Generator) randomAuction(r *rng, n int64) int64 {
	last := lastAuction(n)
	first := max(last-int64(g.cfg.NumInFlightAuctions), 0)
	return first + r.int63n(last-first+1+int64(g.cfg.AuctionIDLead))
}

// nextPrice returns a price in cents, 100 × 10^u for u uniform in [0, priceDecades): log-uniform
// between one and a million units, as in Nexmark.
func nextPrice(r *rng) int64 {
	return int64(pow10(r.float64()*priceDecades)*100 + 0.5)
}

// pow10 returns 10^x for x in [0, 63·log10(2)), several times faster than math.Pow: 10^x = 2^y
// = 2^k × 2^(i/exp2Steps) × e^d with k and i integers and d below 0.003.
func pow10(x float64) float64 {
	y := x * (math.Ln10 * math.Log2E)
	k := int(y)
	f := (y - float64(k)) * exp2Steps
	i := int(f)
	d := (f - float64(i)) * (math.Ln2 / exp2Steps)
	ed := 1 + d*(1+d*(1.0/2+d*(1.0/6+d*(1.0/24)))) // e^d to within 1e-14
	return exp2Table[i] * ed * float64(int64(1)<<k)
}

// exp2Steps is the number of entries of exp2Table.
const exp2Steps = 256

// exp2Table[i] is 2^(i/exp2Steps).
var exp2Table = func() (t [exp2Steps]float64) {
	for i := range t {
		t[i] = math.Exp2(float64(i) / exp2Steps)
	}
	return t
}()

// randomString returns a random lowercase string of minStringLen..maxLen-1 characters with
// occasional inner spaces, cut from the shared text; leading and trailing spaces are trimmed,
// as Nexmark does.
func (g *Generator) randomString(r *rng, maxLen int) string {
	size := minStringLen + r.intn(maxLen-minStringLen)
	off := r.intn(len(g.t.text) - size + 1)
	s := g.t.text[off : off+size]
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

// extra returns filler for a record whose other fields take size bytes, so that records average
// avg bytes: uniform in ±20% of the shortfall, or empty if there is none.
func (g *Generator) extra(r *rng, size, avg int) string {
	if size > avg {
		return ""
	}
	want := avg - size
	delta := (2*want + 5) / 10 // round(want * 0.2)
	length := want - delta
	if delta > 0 {
		length += r.intn(2 * delta)
	}
	off := r.intn(len(g.t.letters) - length + 1)
	return g.t.letters[off : off+length]
}
