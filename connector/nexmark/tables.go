package nexmark

import (
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// The value lists are Nexmark's. They are kept small so that queries grouping by them find
// matches even in short runs.
var (
	usStates    = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames  = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	hotChannels = [...]string{"Google", "Facebook", "Baidu", "Apple"}
)

const (
	// numChannels is how many non-hot channels bids come from.
	numChannels = 10_000
	// poolSize is how many distinct e-mail addresses and credit cards persons draw from.
	poolSize = 4096
	// lettersLen is the length of tables.letters; it exceeds the longest Extra a valid Config
	// can ask for (1.2 × MaxAvgByteSize) with room to pick varied offsets.
	lettersLen = 1 << 18
	// textLen is the length of tables.text.
	textLen = 1 << 16
	// tablesSeed seeds the pools. They are the same for every Config.Seed; events of different
	// seeds differ in which entries and substrings they pick.
	tablesSeed = 0x6e65786d61726b // "nexmark"
)

// tables are the immutable pools every string field of a generated event comes from, so that
// generating an event copies no bytes.
type tables struct {
	names       []string // "First Last" for every first and last name
	emails      []string
	cards       []string
	letters     string // lowercase letters, cut into Extra
	text        string // lowercase letters and about one space in 13, cut into item names and descriptions
	hotURLs     [len(hotChannels)]string
	channels    []string // "channel-<k>"
	channelURLs []string
}

// sharedTables builds the tables on first use. They take a few milliseconds and about 2 MB and
// are read-only afterwards, so every Generator in the process shares them.
var sharedTables = sync.OnceValue(buildTables)

func buildTables() *tables {
	r := rng{state: tablesSeed}
	t := &tables{
		letters: randomText(&r, lettersLen, 0),
		text:    randomText(&r, textLen, ' '),
	}
	for _, first := range firstNames {
		for _, last := range lastNames {
			t.names = append(t.names, first+" "+last)
		}
	}
	t.emails = make([]string, poolSize)
	t.cards = make([]string, poolSize)
	for i := range poolSize {
		// Nexmark's local part has 3..6 characters and its domain 3..4.
		t.emails[i] = randomText(&r, 3+r.intn(4), 0) + "@" + randomText(&r, 3+r.intn(2), 0) + ".com"
		t.cards[i] = creditCard(&r)
	}
	for i := range t.hotURLs {
		t.hotURLs[i] = baseURL(&r)
	}
	t.channels = make([]string, numChannels)
	t.channelURLs = make([]string, numChannels)
	for k := range numChannels {
		t.channels[k] = "channel-" + strconv.Itoa(k)
		url := baseURL(&r)
		if r.intn(10) > 0 {
			// Nexmark tags nine in ten channel URLs with the channel's bit-reversed number.
			id := int64(int32(bits.Reverse32(uint32(k))))
			url += "&channel_id=" + strconv.FormatInt(max(id, -id), 10)
		}
		t.channelURLs[k] = url
	}
	return t
}

// randomText returns n random lowercase letters; if space is not zero, about one character in
// 13 is space instead.
func randomText(r *rng, n int, space byte) string {
	b := make([]byte, n)
	for i := range b {
		if space != 0 && r.intn(13) == 0 {
			b[i] = space
		} else {
			b[i] = 'a' + byte(r.intn(26))
		}
	}
	return string(b)
}

// creditCard returns four groups of four random digits separated by spaces.
func creditCard(r *rng) string {
	var b strings.Builder
	for i := range 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		for range 4 {
			b.WriteByte('0' + byte(r.intn(10)))
		}
	}
	return b.String()
}

// baseURL returns a Nexmark item URL with three random path segments of 3..4 characters.
func baseURL(r *rng) string {
	var b strings.Builder
	b.WriteString("https://www.nexmark.com/")
	for range 3 {
		b.WriteString(randomText(r, 3+r.intn(2), '_'))
		b.WriteByte('/')
	}
	b.WriteString("item.htm?query=1")
	return b.String()
}
