package nexmark

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object, without a trailing newline, and returns the extended
// buffer:
//
//	{"event_type":2,"bid":{"auction":1000,"bidder":1001,"price":1234,"channel":"Google","url":"https://…","dateTime":1767225600000,"extra":"…"}}
//
// Field names are Nexmark's, times are epoch milliseconds, and the bytes are exactly those
// encoding/json's Marshal writes for e, string escaping included. AppendJSON allocates only
// when dst must grow. It panics if e.Type is unknown or the record it names is nil.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"event_type":`...)
	dst = strconv.AppendUint(dst, uint64(e.Type), 10)
	switch e.Type {
	case PersonEvent:
		dst = appendPerson(append(dst, `,"person":`...), e.Person)
	case AuctionEvent:
		dst = appendAuction(append(dst, `,"auction":`...), e.Auction)
	case BidEvent:
		dst = appendBid(append(dst, `,"bid":`...), e.Bid)
	default:
		panic("nexmark: AppendJSON: unknown " + e.Type.String())
	}
	return append(dst, '}')
}

func appendPerson(dst []byte, p *Person) []byte {
	dst = appendInt(dst, `{"id":`, p.ID)
	dst = appendString(dst, `,"name":`, p.Name)
	dst = appendString(dst, `,"emailAddress":`, p.EmailAddress)
	dst = appendString(dst, `,"creditCard":`, p.CreditCard)
	dst = appendString(dst, `,"city":`, p.City)
	dst = appendString(dst, `,"state":`, p.State)
	dst = appendInt(dst, `,"dateTime":`, p.DateTime)
	dst = appendString(dst, `,"extra":`, p.Extra)
	return append(dst, '}')
}

func appendAuction(dst []byte, a *Auction) []byte {
	dst = appendInt(dst, `{"id":`, a.ID)
	dst = appendString(dst, `,"itemName":`, a.ItemName)
	dst = appendString(dst, `,"description":`, a.Description)
	dst = appendInt(dst, `,"initialBid":`, a.InitialBid)
	dst = appendInt(dst, `,"reserve":`, a.Reserve)
	dst = appendInt(dst, `,"dateTime":`, a.DateTime)
	dst = appendInt(dst, `,"expires":`, a.Expires)
	dst = appendInt(dst, `,"seller":`, a.Seller)
	dst = appendInt(dst, `,"category":`, a.Category)
	dst = appendString(dst, `,"extra":`, a.Extra)
	return append(dst, '}')
}

func appendBid(dst []byte, b *Bid) []byte {
	dst = appendInt(dst, `{"auction":`, b.Auction)
	dst = appendInt(dst, `,"bidder":`, b.Bidder)
	dst = appendInt(dst, `,"price":`, b.Price)
	dst = appendString(dst, `,"channel":`, b.Channel)
	dst = appendString(dst, `,"url":`, b.URL)
	dst = appendInt(dst, `,"dateTime":`, b.DateTime)
	dst = appendString(dst, `,"extra":`, b.Extra)
	return append(dst, '}')
}

// appendInt appends key, which includes the punctuation before the value, and v.
func appendInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(dst, key...), v, 10)
}

// jsonSafe marks the bytes a JSON string may hold unescaped: ASCII but for control characters,
// '"' and '\\', and, as encoding/json does so the output is safe to embed in HTML, '<', '>' and
// '&'. Bytes from utf8.RuneSelf up start a multi-byte sequence that needs checking.
var jsonSafe = func() (safe [256]bool) {
	for b := range safe {
		safe[b] = b >= ' ' && b < utf8.RuneSelf && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return safe
}()

const hexDigits = "0123456789abcdef"

// appendString appends key, which includes the punctuation before the value, and s as a JSON
// string escaped as encoding/json escapes it: invalid UTF-8 bytes become U+FFFD, and U+2028 and
// U+2029 are escaped for JavaScript.
func appendString(dst []byte, key, s string) []byte {
	dst = append(dst, key...)
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needing no escapes
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ParseJSON parses one event in the form AppendJSON writes, with encoding/json; surrounding
// white space is allowed, unknown fields are ignored and field names match case-insensitively.
// The returned Event owns its records. The error says what is wrong if line is not one JSON
// object or does not hold exactly the record its event_type names.
func ParseJSON(line []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return Event{}, fmt.Errorf("nexmark: parse event: %w", err)
	}
	var present []string // names of the record objects present, in field order
	for i, isSet := range [...]bool{e.Person != nil, e.Auction != nil, e.Bid != nil} {
		if isSet {
			present = append(present, EventType(i).String())
		}
	}
	if e.Type > BidEvent {
		return Event{}, fmt.Errorf("nexmark: parse event: unknown event_type %d", e.Type)
	}
	if len(present) != 1 || present[0] != e.Type.String() {
		return Event{}, fmt.Errorf("nexmark: parse event: event_type %d wants only a %q object, got %q", e.Type, e.Type, present)
	}
	return e, nil
}
