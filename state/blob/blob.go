// Package blob is the format of one key group's keyed state in a full snapshot: the bytes a
// state backend writes for a key group (checkpoint.KeyGroupWriter stores them back to back) and
// reads back on restore, whatever the backend and the parallelism.
//
// Every backend writes the same format, so a snapshot of the in-memory backend restores into
// the Pebble backend and the other way round. Keys and values are opaque here: they are the
// bytes of the state's codecs (state.Codec).
//
// # Format
//
// A blob is a sequence of sections; the concatenation of two blobs of one key group is a blob.
// Strings (str) are a uvarint length and that many bytes; times and expiries are zig-zag
// varints (epoch milliseconds, expiry 0 = never).
//
//	blob     = *section
//	section  = state | timers | operator
//	state    = 0x01 name:str kind:byte length:uint32be body     (length = len(body))
//	timers   = 0x02 length:uint32be *(key:str at:varint domain:byte)
//	operator = 0x03 name:str length:uint32be opaque             (the operator's own encoding)
//	body     = *(key:str payload:str)                           one record per key
//	payload  = exp:varint value                                 kind Value (value: the rest)
//	         | *(exp:varint value:str)                          kind List, in list order
//	         | *(ukey:str exp:varint value:str)                 kind Map
//
// A record's key is the state key's encoding as a str, which is also how the Pebble backend
// frames keys (see AppendKey). Records with nothing live (an empty list, an empty map) are
// not written. The section tag versions the format: a change is a new tag.
//
// Operator sections hold keyed state that an operator keeps itself rather than in a state
// backend, in an encoding only the operator named reads (the window operator wrote its panes and
// timers so before they became state sections). Backends skip them on restore, as they skip
// timer sections.
//
// Readers check every length against the bytes there are and return an error wrapping
// ErrCorrupt for anything malformed; they never panic (FuzzSections).
package blob

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind is the shape of a state, which decides what its payloads hold.
type Kind uint8

const (
	// Value states hold one value per key (Value, Reducing and Aggregating handles).
	Value Kind = 1
	// List states hold a list per key; each element has its own expiry.
	List Kind = 2
	// Map states hold a map per key; each entry has its own expiry.
	Map Kind = 3
)

// String returns "value", "list" or "map".
func (k Kind) String() string {
	switch k {
	case Value:
		return "value"
	case List:
		return "list"
	case Map:
		return "map"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k >= Value && k <= Map }

// Section tags.
const (
	// TagState marks the section of one state of a backend.
	TagState byte = 0x01
	// TagTimers marks a section of timers (state.TimerSnapshot).
	TagTimers byte = 0x02
	// TagOperator marks a section of keyed state an operator keeps itself, in its own encoding
	// (Writer.BeginOperator); Section.Name names the operator's section.
	TagOperator byte = 0x03
)

// ErrCorrupt is wrapped by every error about malformed bytes.
var ErrCorrupt = errors.New("blob: corrupt key-group state")

// maxSection is the largest section body (the length field is 32 bits).
const maxSection = 1<<32 - 1

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// AppendStr appends b as a str (uvarint length, bytes).
func AppendStr(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// AppendKey appends the framed form of an encoded state key: a str. Framing makes keys
// prefix-free, so the entries of one key of a Map state are a contiguous range in a sorted
// store, and a key's frame is the record key of the format.
func AppendKey(dst, key []byte) []byte { return AppendStr(dst, key) }

// ReadStr reads a str from the front of b and returns it and the rest of b. The result aliases
// b.
func ReadStr(b []byte) (s, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, corrupt("bad length")
	}
	b = b[k:]
	if n > uint64(len(b)) {
		return nil, nil, corrupt("length %d past the end (%d bytes left)", n, len(b))
	}
	return b[:n:n], b[n:], nil
}

// ReadVarint reads a zig-zag varint from the front of b.
func ReadVarint(b []byte) (v int64, rest []byte, err error) {
	v, k := binary.Varint(b)
	if k <= 0 {
		return 0, nil, corrupt("bad varint")
	}
	return v, b[k:], nil
}

// Expired reports whether an entry with expiry exp is expired at now: exp != 0 && exp <= now.
func Expired(exp, now int64) bool { return exp != 0 && exp <= now }

// AppendValue appends the payload of a Value record (or the stored form of a value in a bytes
// backend): the expiry, then the value's bytes.
func AppendValue(dst []byte, exp int64, value []byte) []byte {
	dst = binary.AppendVarint(dst, exp)
	return append(dst, value...)
}

// ParseValue splits a Value payload into expiry and value; value aliases p.
func ParseValue(p []byte) (exp int64, value []byte, err error) {
	return ReadVarint(p)
}

// AppendItem appends one element of a List payload.
func AppendItem(dst []byte, exp int64, value []byte) []byte {
	dst = binary.AppendVarint(dst, exp)
	return AppendStr(dst, value)
}

// ReadItem reads one element of a List payload from the front of p.
func ReadItem(p []byte) (exp int64, value, rest []byte, err error) {
	exp, p, err = ReadVarint(p)
	if err != nil {
		return 0, nil, nil, err
	}
	value, rest, err = ReadStr(p)
	return exp, value, rest, err
}

// AppendMapItem appends one entry of a Map payload.
func AppendMapItem(dst []byte, ukey []byte, exp int64, value []byte) []byte {
	dst = AppendStr(dst, ukey)
	return AppendItem(dst, exp, value)
}

// ReadMapItem reads one entry of a Map payload from the front of p.
func ReadMapItem(p []byte) (ukey []byte, exp int64, value, rest []byte, err error) {
	ukey, p, err = ReadStr(p)
	if err != nil {
		return nil, 0, nil, nil, err
	}
	exp, value, rest, err = ReadItem(p)
	return ukey, exp, value, rest, err
}

// Live appends to dst the part of payload p of kind k live at now (nothing expired) and
// reports whether anything is. It lets a backend drop expired entries without decoding them.
func Live(dst []byte, k Kind, p []byte, now int64) ([]byte, bool, error) {
	switch k {
	case Value:
		exp, _, err := ParseValue(p)
		if err != nil {
			return dst, false, err
		}
		if Expired(exp, now) {
			return dst, false, nil
		}
		return append(dst, p...), true, nil
	case List, Map:
		live := false
		for len(p) > 0 {
			var exp int64
			var err error
			start := p
			if k == Map {
				_, exp, _, p, err = ReadMapItem(p)
			} else {
				exp, _, p, err = ReadItem(p)
			}
			if err != nil {
				return dst, false, err
			}
			if !Expired(exp, now) {
				dst = append(dst, start[:len(start)-len(p)]...)
				live = true
			}
		}
		return dst, live, nil
	}
	return dst, false, corrupt("unknown kind %d", k)
}

// Writer appends sections to Buf. The zero Writer is ready; reset Buf to reuse it. A Writer is
// not safe for concurrent use.
type Writer struct {
	// Buf is the blob written so far.
	Buf   []byte
	sec   int // offset of the open section's tag
	start int // offset of the open section's length field
	open  bool
	n     int // records in the open section
}

// BeginState opens the section of state name, of kind k. Records follow; End closes it.
func (w *Writer) BeginState(name string, k Kind) {
	w.mustBeClosed()
	w.sec = len(w.Buf)
	w.Buf = append(w.Buf, TagState)
	w.Buf = binary.AppendUvarint(w.Buf, uint64(len(name)))
	w.Buf = append(w.Buf, name...)
	w.Buf = append(w.Buf, byte(k))
	w.begin()
}

// BeginTimers opens a timer section; Timer adds to it, End closes it.
func (w *Writer) BeginTimers() {
	w.mustBeClosed()
	w.sec = len(w.Buf)
	w.Buf = append(w.Buf, TagTimers)
	w.begin()
}

// BeginOperator opens an operator section called name; Raw adds its body (opaque to this
// package), End closes it. An operator section without a body is dropped like any empty
// section.
func (w *Writer) BeginOperator(name string) {
	w.mustBeClosed()
	w.sec = len(w.Buf)
	w.Buf = append(w.Buf, TagOperator)
	w.Buf = binary.AppendUvarint(w.Buf, uint64(len(name)))
	w.Buf = append(w.Buf, name...)
	w.begin()
}

func (w *Writer) begin() {
	w.start = len(w.Buf)
	w.Buf = append(w.Buf, 0, 0, 0, 0)
	w.open, w.n = true, 0
}

func (w *Writer) mustBeClosed() {
	if w.open {
		panic("blob: section begun before the previous one ended")
	}
}

// Record adds the record of one key (its encoding, unframed) and its payload to the open state
// section.
func (w *Writer) Record(key, payload []byte) {
	w.Buf = AppendStr(w.Buf, key)
	w.Buf = AppendStr(w.Buf, payload)
	w.n++
}

// FramedRecord is Record for a key that is already framed (AppendKey), as bytes backends keep
// them.
func (w *Writer) FramedRecord(framedKey, payload []byte) {
	w.Buf = append(w.Buf, framedKey...)
	w.Buf = AppendStr(w.Buf, payload)
	w.n++
}

// Timer adds a timer to the open timer section.
func (w *Writer) Timer(key []byte, at int64, domain uint8) {
	w.Buf = AppendTimer(w.Buf, key, at, domain)
	w.n++
}

// AppendTimer appends one timer record of a timer section's body.
func AppendTimer(dst, key []byte, at int64, domain uint8) []byte {
	dst = AppendStr(dst, key)
	dst = binary.AppendVarint(dst, at)
	return append(dst, domain)
}

// Raw adds records already encoded (a section body or part of one, of the open section's
// kind) to the open section; for an operator section, (part of) its body.
func (w *Writer) Raw(records []byte) {
	if len(records) > 0 {
		w.Buf = append(w.Buf, records...)
		w.n++
	}
}

// End closes the open section. A section without records is removed, so an empty key group
// has an empty blob. It returns an error if the section is too large for its length field.
func (w *Writer) End() error {
	if !w.open {
		panic("blob: End without a section")
	}
	w.open = false
	body := len(w.Buf) - w.start - 4
	if w.n == 0 {
		w.Buf = w.Buf[:w.sec]
		return nil
	}
	if body > maxSection {
		return fmt.Errorf("blob: section of %d bytes exceeds the 4 GiB limit", body)
	}
	binary.BigEndian.PutUint32(w.Buf[w.start:], uint32(body))
	return nil
}

// Section is one section of a blob. Its slices alias the blob.
type Section struct {
	Tag  byte
	Name string // state and operator sections only
	Kind Kind   // state sections only
	Body []byte
}

// Sections calls fn for every section of blob, in order, and returns the first error, fn's or
// ErrCorrupt's. It checks the framing of sections, not of their records (see Check).
func Sections(blob []byte, fn func(Section) error) error {
	for len(blob) > 0 {
		var s Section
		s.Tag = blob[0]
		blob = blob[1:]
		switch s.Tag {
		case TagState:
			name, rest, err := ReadStr(blob)
			if err != nil {
				return fmt.Errorf("state name: %w", err)
			}
			if len(rest) < 1 {
				return corrupt("state %q: no kind", name)
			}
			s.Name, s.Kind, blob = string(name), Kind(rest[0]), rest[1:]
			if !s.Kind.Valid() {
				return corrupt("state %q: unknown kind %d", name, rest[0])
			}
		case TagTimers:
		case TagOperator:
			name, rest, err := ReadStr(blob)
			if err != nil {
				return fmt.Errorf("operator section name: %w", err)
			}
			s.Name, blob = string(name), rest
		default:
			return corrupt("unknown section tag 0x%02x", s.Tag)
		}
		if len(blob) < 4 {
			return corrupt("section length cut short")
		}
		n := binary.BigEndian.Uint32(blob)
		blob = blob[4:]
		if uint64(n) > uint64(len(blob)) {
			return corrupt("section of %d bytes, %d left", n, len(blob))
		}
		s.Body, blob = blob[:n:n], blob[n:]
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// Records calls fn for every record of a state section's body: the key's encoding (unframed),
// its framed form (for bytes backends) and the payload. The slices alias body.
func Records(body []byte, fn func(key, framed, payload []byte) error) error {
	for len(body) > 0 {
		key, rest, err := ReadStr(body)
		if err != nil {
			return fmt.Errorf("record key: %w", err)
		}
		framed := body[:len(body)-len(rest)]
		payload, rest, err := ReadStr(rest)
		if err != nil {
			return fmt.Errorf("record payload: %w", err)
		}
		if err := fn(key, framed, payload); err != nil {
			return err
		}
		body = rest
	}
	return nil
}

// Items calls fn for each element of a List payload.
func Items(p []byte, fn func(exp int64, value []byte) error) error {
	for len(p) > 0 {
		exp, v, rest, err := ReadItem(p)
		if err != nil {
			return err
		}
		if err := fn(exp, v); err != nil {
			return err
		}
		p = rest
	}
	return nil
}

// MapItems calls fn for each entry of a Map payload.
func MapItems(p []byte, fn func(ukey []byte, exp int64, value []byte) error) error {
	for len(p) > 0 {
		uk, exp, v, rest, err := ReadMapItem(p)
		if err != nil {
			return err
		}
		if err := fn(uk, exp, v); err != nil {
			return err
		}
		p = rest
	}
	return nil
}

// Timers calls fn for each timer of a timer section's body.
func Timers(body []byte, fn func(key []byte, at int64, domain uint8) error) error {
	for len(body) > 0 {
		key, rest, err := ReadStr(body)
		if err != nil {
			return fmt.Errorf("timer key: %w", err)
		}
		at, rest, err := ReadVarint(rest)
		if err != nil {
			return fmt.Errorf("timer time: %w", err)
		}
		if len(rest) < 1 {
			return corrupt("timer without a domain")
		}
		if err := fn(key, at, rest[0]); err != nil {
			return err
		}
		body = rest[1:]
	}
	return nil
}

// Check validates the framing of s down to its payloads' entries. The body of an operator
// section is opaque: only its owner can check it.
func Check(s Section) error {
	switch s.Tag {
	case TagTimers:
		return Timers(s.Body, func([]byte, int64, uint8) error { return nil })
	case TagOperator:
		return nil
	}
	return Records(s.Body, func(_, _, p []byte) error {
		switch s.Kind {
		case Value:
			_, _, err := ParseValue(p)
			return err
		case List:
			return Items(p, func(int64, []byte) error { return nil })
		default:
			return MapItems(p, func([]byte, int64, []byte) error { return nil })
		}
	})
}
