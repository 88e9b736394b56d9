package nexmark

import "strconv"

// EventType is the kind of record an Event carries.
type EventType uint8

const (
	// PersonEvent is an Event carrying a Person.
	PersonEvent EventType = 0
	// AuctionEvent is an Event carrying an Auction.
	AuctionEvent EventType = 1
	// BidEvent is an Event carrying a Bid.
	BidEvent EventType = 2
)

// String returns "person", "auction" or "bid".
func (t EventType) String() string {
	switch t {
	case PersonEvent:
		return "person"
	case AuctionEvent:
		return "auction"
	case BidEvent:
		return "bid"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Person is a user who joined the auction site. Persons sell in auctions and bid on them.
type Person struct {
	// ID is unique among persons; generated ids count up from FirstPersonID.
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	EmailAddress string `json:"emailAddress"`
	CreditCard   string `json:"creditCard"`
	City         string `json:"city"`
	State        string `json:"state"`
	// DateTime is when the person joined, in epoch milliseconds of event time.
	DateTime int64 `json:"dateTime"`
	// Extra is filler that brings the record to its configured average size.
	Extra string `json:"extra"`
}

// Auction is an item put up for sale by a Person.
type Auction struct {
	// ID is unique among auctions; generated ids count up from FirstAuctionID.
	ID          int64  `json:"id"`
	ItemName    string `json:"itemName"`
	Description string `json:"description"`
	// InitialBid and Reserve are prices in cents; Reserve exceeds InitialBid.
	InitialBid int64 `json:"initialBid"`
	Reserve    int64 `json:"reserve"`
	// DateTime is when the auction opened and Expires when it closes, both in epoch
	// milliseconds of event time. Expires is after DateTime.
	DateTime int64 `json:"dateTime"`
	Expires  int64 `json:"expires"`
	// Seller is the Person.ID of the seller.
	Seller int64 `json:"seller"`
	// Category is in [FirstCategoryID, FirstCategoryID+NumCategories).
	Category int64 `json:"category"`
	// Extra is filler that brings the record to its configured average size.
	Extra string `json:"extra"`
}

// Bid is an offer by a Person on an Auction.
type Bid struct {
	// Auction is the Auction.ID bid on.
	Auction int64 `json:"auction"`
	// Bidder is the Person.ID of the bidder.
	Bidder int64 `json:"bidder"`
	// Price is in cents.
	Price int64 `json:"price"`
	// Channel names where the bid came from, and URL the page it was placed on.
	Channel string `json:"channel"`
	URL     string `json:"url"`
	// DateTime is when the bid was placed, in epoch milliseconds of event time.
	DateTime int64 `json:"dateTime"`
	// Extra is filler that brings the record to its configured average size.
	Extra string `json:"extra"`
}

// Event is one element of the Nexmark stream. Exactly one of Person, Auction and Bid is set: the
// one Type names. Its JSON form under encoding/json is the one AppendJSON writes.
type Event struct {
	Type    EventType `json:"event_type"`
	Person  *Person   `json:"person,omitempty"`
	Auction *Auction  `json:"auction,omitempty"`
	Bid     *Bid      `json:"bid,omitempty"`
}

// Time returns the event's DateTime in epoch milliseconds. It panics if the record Type names is
// nil or Type is unknown.
func (e *Event) Time() int64 {
	switch e.Type {
	case PersonEvent:
		return e.Person.DateTime
	case AuctionEvent:
		return e.Auction.DateTime
	case BidEvent:
		return e.Bid.DateTime
	}
	panic("nexmark: Event.Time: unknown " + e.Type.String())
}
