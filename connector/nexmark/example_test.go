package nexmark_test

import (
	"fmt"

	"github.com/runnel-io/runnel/connector/nexmark"
)

func ExampleGenerator() {
	g, err := nexmark.NewGenerator(nexmark.Config{EventsPerSecond: 1000})
	if err != nil {
		panic(err)
	}
	// Any range of event numbers can be generated on its own, here 48..53.
	var s nexmark.Scratch
	var e nexmark.Event
	for n := int64(48); n < 54; n++ {
		g.Fill(n, &e, &s)
		switch e.Type {
		case nexmark.PersonEvent:
			fmt.Printf("%d +%dms person %d\n", n, e.Time()-nexmark.DefaultBaseTime, e.Person.ID)
		case nexmark.AuctionEvent:
			fmt.Printf("%d +%dms auction %d sold by %d\n", n, e.Time()-nexmark.DefaultBaseTime, e.Auction.ID, e.Auction.Seller)
		case nexmark.BidEvent:
			fmt.Printf("%d +%dms bid on %d by %d\n", n, e.Time()-nexmark.DefaultBaseTime, e.Bid.Auction, e.Bid.Bidder)
		}
	}
	// Output:
	// 48 +48ms bid on 1002 by 1000
	// 49 +49ms bid on 1002 by 1000
	// 50 +50ms person 1001
	// 51 +51ms auction 1003 sold by 1000
	// 52 +52ms auction 1004 sold by 1000
	// 53 +53ms auction 1005 sold by 1000
}
