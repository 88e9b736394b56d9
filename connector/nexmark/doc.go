// Package nexmark holds the Nexmark benchmark's data model and a fast, deterministic generator
// of its event stream.
//
// # Model
//
// Nexmark simulates an auction site. A stream of Events carries three kinds of record: a Person
// joins the site, an Auction opens for an item a person sells, and a Bid is placed on an
// auction. Within every block of 50 consecutive events there is 1 person, then 3 auctions, then
// 46 bids, so event n's kind depends on n%50 alone (Generator.Type).
//
// Person ids count up from FirstPersonID and auction ids from FirstAuctionID, one per person or
// auction event, so the ids of events 0..n are dense. Categories are FirstCategoryID plus
// 0..NumCategories-1. References follow Nexmark's generator:
//
//   - an auction's seller is, with probability 1-1/HotSellersRatio, the first person of the
//     latest batch of 100 people, otherwise a random one of the NumActivePeople newest people;
//   - a bid's auction is, with probability 1-1/HotAuctionRatio, the first auction of the latest
//     batch of 100 auctions, otherwise a random one of the NumInFlightAuctions newest auctions;
//   - a bid's bidder is, with probability 1-1/HotBiddersRatio, the second person of the latest
//     batch of 100 people, otherwise a random one of the NumActivePeople newest people.
//
// With the default PersonIDLead and AuctionIDLead of 0 every reference names a person or auction
// generated at or before the referring event. Nexmark itself uses leads of 10, which lets a few
// references name ids generated shortly afterwards; set the leads to 10 to reproduce that.
//
// Every record carries an Extra string of filler so that its average size, counting 8 bytes per
// integer and the length of each string, is the configured Avg*ByteSize, as in Nexmark.
//
// # Time
//
// Event time is synthetic: event n happens at BaseTime + n*1000/EventsPerSecond milliseconds
// (integer division), so it never decreases with n and does not depend on the wall clock. An
// auction expires a random time after it opens, averaging the time it takes to generate
// NumInFlightAuctions further auctions.
//
// # Determinism
//
// Event n is a pure function of the Config and n: the generator seeds a small splitmix64 stream
// from (Config.Seed, n) for each event and keeps no state between calls. Parallel readers may
// therefore generate disjoint ranges of event numbers, in any order, and together produce exactly
// the events of one sequential run. A Generator is immutable and safe for concurrent use.
//
// Strings are never built per event: names, e-mail addresses, credit cards, channels and URLs
// come from pools built once per process from a fixed seed, and item names, descriptions and
// Extra are substrings of long preallocated random texts. The Generator.Fill methods therefore
// allocate nothing, and Generator.Event allocates only the record it returns.
//
// # JSON
//
// AppendJSON writes an event as one JSON object in Nexmark's field names, the same bytes
// encoding/json produces for an Event; ParseJSON reads it back. Tools use this to dump and
// compare event streams.
package nexmark
