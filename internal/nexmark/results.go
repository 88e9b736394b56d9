package nexmark

import (
	"strconv"
)

// Q0Result is a bid passed through: the columns of Flink's nexmark_q0 table. Times are epoch
// milliseconds of event time, here and in every result.
type Q0Result struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

// Q1Result is a bid with its price converted from dollars to euros.
type Q1Result struct {
	Auction int64 `json:"auction"`
	Bidder  int64 `json:"bidder"`
	// Price is 0.908 × the bid's price, exactly: Flink's DECIMAL(23, 3).
	Price    Decimal `json:"price"`
	DateTime int64   `json:"dateTime"`
	Extra    string  `json:"extra"`
}

// Q2Result is a bid on a selected auction.
type Q2Result struct {
	Auction int64 `json:"auction"`
	Price   int64 `json:"price"`
}

// Q3Result is a seller in Oregon, Idaho or California and one of their category-10 auctions.
type Q3Result struct {
	Name  string `json:"name"`
	City  string `json:"city"`
	State string `json:"state"`
	// ID is the auction's id.
	ID int64 `json:"id"`
}

// Q4Result is the running average winning price of a category.
type Q4Result struct {
	Category int64 `json:"category"`
	// Avg is the average of the winning prices of the category's closed auctions, truncated to
	// an integer as Flink's AVG over BIGINT is. (Flink's sink table names these columns id and
	// final.)
	Avg int64 `json:"avg"`
}

// Q5Result is an auction with the most bids in one sliding window. The window's end is the
// record's timestamp plus one.
type Q5Result struct {
	Auction int64 `json:"auction"`
	Num     int64 `json:"num"`
}

// Q7Result is a bid with the highest price of its tumbling window.
type Q7Result struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

// Q8Result is a person who joined and opened an auction in the same tumbling window.
type Q8Result struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// StartTime is the window's start. (Flink's sink table calls it stime.)
	StartTime int64 `json:"starttime"`
}

// Decimal is a fixed-point number with three decimal places, held as an integer count of
// thousandths so that arithmetic on it is exact. It marshals to a JSON number: 1234.500.
type Decimal int64

// DecimalScale is the number of thousandths in one unit of a Decimal.
const DecimalScale = 1000

// String formats d with exactly three decimal places.
func (d Decimal) String() string { return string(d.append(nil)) }

// MarshalJSON writes d as a JSON number with three decimal places.
func (d Decimal) MarshalJSON() ([]byte, error) { return d.append(nil), nil }

// Float64 returns d as the nearest float64.
func (d Decimal) Float64() float64 { return float64(d) / DecimalScale }

func (d Decimal) append(dst []byte) []byte {
	u := uint64(d)
	if d < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendUint(dst, u/DecimalScale, 10)
	f := u % DecimalScale
	return append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}
