package avro

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	hamba "github.com/hamba/avro/v2"
)

// Before the library decodes a body, check walks it by the writer's schema and rejects what the
// library handles badly on its own:
//
//   - a string or bytes length, or an array or map block count, larger than the bytes left: the
//     library allocates by the length before it reads (256 MB for a 3-byte record holding an
//     array of a 256-byte struct), and it loops over the whole count of a field it skips (a
//     writer's field the reader lacks) without noticing that the body has ended, which hangs;
//   - nesting deeper than maxDepth: the library recurses once or more per level, and a record
//     of a recursive type nested a few million deep overflows the goroutine's stack, a fatal
//     error that recover cannot catch;
//   - a union branch or an enum symbol that does not exist, a varint longer than its type
//     allows, a body that ends early or has bytes left over.
//
// What the library then allocates is what the decoded value holds, and it returns. The walk
// reads varints and skips bytes; it does not allocate.

// maxDepth bounds the nesting of records, arrays, maps and unions in one record.
const maxDepth = 10_000

// kind is a shape's Avro type.
type kind uint8

const (
	kindNull kind = iota
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindBytes
	kindString
	kindFixed
	kindEnum
	kindArray
	kindMap
	kindUnion
	kindRecord
)

// shape is a writer schema compiled for check: just what the walk needs, with named types
// shared so that recursive schemas are finite.
type shape struct {
	kind  kind
	size  int      // fixed: the size; enum: the number of symbols
	elem  *shape   // array: the items; map: the values
	subs  []*shape // record: the fields; union: the branches
	names []string // record: the field names, for errors
	empty bool     // it encodes as zero bytes (null, a fixed of size 0, a record of such)
}

// compile returns s's shape.
func compile(s hamba.Schema) (*shape, error) {
	named := map[hamba.Schema]*shape{}
	sh, err := compileIn(s, named)
	if err != nil {
		return nil, err
	}
	// A record is empty when all its fields are; a recursive record cannot be, so repeating
	// until nothing changes ends.
	for changed := true; changed; {
		changed = false
		for _, r := range named {
			if r.kind != kindRecord || r.empty {
				continue
			}
			empty := true
			for _, f := range r.subs {
				empty = empty && f.empty
			}
			if empty {
				r.empty, changed = true, true
			}
		}
	}
	return sh, nil
}

func compileIn(s hamba.Schema, named map[hamba.Schema]*shape) (*shape, error) {
	if ref, ok := s.(*hamba.RefSchema); ok {
		s = ref.Schema()
	}
	if sh, ok := named[s]; ok {
		return sh, nil
	}
	if k, ok := primitiveKinds[s.Type()]; ok { // with a logical type or not
		return &shape{kind: k, empty: k == kindNull}, nil
	}
	switch s := s.(type) {
	case *hamba.FixedSchema:
		sh := &shape{kind: kindFixed, size: s.Size(), empty: s.Size() == 0}
		named[s] = sh
		return sh, nil
	case *hamba.EnumSchema:
		sh := &shape{kind: kindEnum, size: len(s.Symbols())}
		named[s] = sh
		return sh, nil
	case *hamba.ArraySchema:
		elem, err := compileIn(s.Items(), named)
		return &shape{kind: kindArray, elem: elem}, err
	case *hamba.MapSchema:
		elem, err := compileIn(s.Values(), named)
		return &shape{kind: kindMap, elem: elem}, err
	case *hamba.UnionSchema:
		sh := &shape{kind: kindUnion}
		for _, b := range s.Types() {
			sub, err := compileIn(b, named)
			if err != nil {
				return nil, err
			}
			sh.subs = append(sh.subs, sub)
		}
		return sh, nil
	case *hamba.RecordSchema:
		sh := &shape{kind: kindRecord}
		named[s] = sh // before the fields, which may refer to it
		for _, f := range s.Fields() {
			sub, err := compileIn(f.Type(), named)
			if err != nil {
				return nil, err
			}
			sh.subs = append(sh.subs, sub)
			sh.names = append(sh.names, f.Name())
		}
		return sh, nil
	}
	return nil, fmt.Errorf("unknown schema type %s", s.Type())
}

var primitiveKinds = map[hamba.Type]kind{
	hamba.Null: kindNull, hamba.Boolean: kindBoolean, hamba.Int: kindInt, hamba.Long: kindLong,
	hamba.Float: kindFloat, hamba.Double: kindDouble, hamba.Bytes: kindBytes, hamba.String: kindString,
}

// smallest appends the smallest record of sh to dst: zeros, empty strings, arrays and maps, the
// first enum symbol, the null branch of a union (or else the first branch that ends). It reports
// false for a schema whose records nest without end.
func (sh *shape) smallest(dst []byte, depth int) ([]byte, bool) {
	if depth > 32 {
		return dst, false
	}
	switch sh.kind {
	case kindNull:
		return dst, true
	case kindFloat:
		return append(dst, 0, 0, 0, 0), true
	case kindDouble:
		return append(dst, 0, 0, 0, 0, 0, 0, 0, 0), true
	case kindFixed:
		return append(dst, make([]byte, sh.size)...), true
	case kindUnion:
		for k, b := range sh.subs {
			if b.kind == kindNull {
				return append(dst, byte(2*k)), k < 64
			}
		}
		for k, b := range sh.subs {
			if out, ok := b.smallest(append(dst, byte(2*k)), depth+1); ok && k < 64 {
				return out, true
			}
		}
		return dst, false
	case kindRecord:
		for _, f := range sh.subs {
			var ok bool
			if dst, ok = f.smallest(dst, depth+1); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	// Boolean, int, long, enum: 0; bytes and string: length 0; array and map: no blocks.
	return append(dst, 0), true
}

// checkError is check's reason for rejecting a body, with the path of the field at fault.
type checkError struct {
	field string // "items[3].name"; empty for the record as a whole
	err   error
}

// Error names the field, if known, and the reason.
func (e *checkError) Error() string {
	if e.field == "" {
		return e.err.Error()
	}
	return "field " + strconv.Quote(e.field) + ": " + e.err.Error()
}

func (e *checkError) Unwrap() error { return e.err }

// keyShape is a map key's.
var keyShape = &shape{kind: kindString}

// walker reads one body by a shape.
type walker struct {
	b        []byte
	i        int
	maxBytes int
	maxItems int
	empties  int // items of empty shapes so far, which take no bytes and so are counted apart
}

// check reports whether body holds exactly one record of sh, with no string or bytes value
// longer than maxBytes and no array or map longer than maxItems.
func check(sh *shape, body []byte, maxBytes, maxItems int) error {
	w := walker{b: body, maxBytes: maxBytes, maxItems: maxItems}
	if err := w.walk(sh, 0); err != nil {
		return err
	}
	if w.i != len(w.b) {
		return &checkError{err: fmt.Errorf("%d bytes are left after the record (%d in all): it was written with another schema", len(w.b)-w.i, len(w.b))}
	}
	return nil
}

func (w *walker) fail(format string, args ...any) error {
	return &checkError{err: fmt.Errorf(format, args...)}
}

func (w *walker) walk(sh *shape, depth int) error {
	if depth > maxDepth {
		return w.fail("nested deeper than %d levels", maxDepth)
	}
	switch sh.kind {
	case kindNull:
		return nil
	case kindBoolean:
		return w.skip(1)
	case kindInt:
		return w.skipVarint(5)
	case kindLong:
		return w.skipVarint(10)
	case kindFloat:
		return w.skip(4)
	case kindDouble:
		return w.skip(8)
	case kindFixed:
		return w.skip(sh.size)
	case kindBytes, kindString:
		return w.lengthPrefixed()
	case kindEnum:
		n, err := w.varint(5)
		if err == nil && (n < 0 || n >= int64(sh.size)) {
			err = w.fail("enum symbol %d of %d", n, sh.size)
		}
		return err
	case kindUnion:
		n, err := w.varint(10)
		if err != nil {
			return err
		}
		if n < 0 || n >= int64(len(sh.subs)) {
			return w.fail("union branch %d of %d", n, len(sh.subs))
		}
		return w.walk(sh.subs[n], depth+1)
	case kindRecord:
		for k, f := range sh.subs {
			var err error
			switch f.kind { // the commonest fields without a call
			case kindLong:
				err = w.skipVarint(10)
			case kindString, kindBytes:
				err = w.lengthPrefixed()
			default:
				err = w.walk(f, depth+1)
			}
			if err != nil {
				return within(err, sh.names[k])
			}
		}
		return nil
	case kindArray, kindMap:
		return w.blocks(sh, depth)
	}
	return w.fail("unknown shape %d", sh.kind)
}

// lengthPrefixed skips a string or bytes value: its length, then as many bytes.
func (w *walker) lengthPrefixed() error {
	n, err := w.varint(10)
	if err != nil {
		return err
	}
	switch {
	case n < 0:
		return w.fail("negative length %d", n)
	case n > int64(w.maxBytes):
		return w.fail("length %d is more than MaxBytes (%d)", n, w.maxBytes)
	case n > int64(len(w.b)-w.i):
		return w.ends()
	}
	w.i += int(n)
	return nil
}

// blocks walks an array's or a map's blocks: a count, then a byte size if the count is
// negative, then the items, until a count of zero.
func (w *walker) blocks(sh *shape, depth int) error {
	items := 0
	for {
		n, err := w.varint(10)
		if err != nil || n == 0 {
			return err
		}
		size := int64(-1)
		if n < 0 {
			if n == math.MinInt64 {
				return w.fail("block count %d", n)
			}
			n = -n
			if size, err = w.varint(10); err != nil {
				return err
			}
			if size < 0 || size > int64(len(w.b)-w.i) {
				return w.fail("block of %d bytes, %d left", size, len(w.b)-w.i)
			}
		}
		if n > int64(w.maxItems-items) {
			return w.fail("more than MaxItems (%d) items", w.maxItems)
		}
		if sh.kind == kindArray && sh.elem.empty {
			// Items that take no bytes need no walk, but the library still loops over them.
			if size > 0 {
				return w.fail("block of %d bytes holds items that take none", size)
			}
			if w.empties += int(n); w.empties > w.maxItems {
				return w.fail("more than MaxItems (%d) items that take no bytes", w.maxItems)
			}
			items += int(n)
			continue
		}
		if n > int64(len(w.b)-w.i) { // each item takes a byte at least
			return w.fail("block of %d items, %d bytes left", n, len(w.b)-w.i)
		}
		start := w.i
		for k := range int(n) {
			if sh.kind == kindMap {
				if err := w.walk(keyShape, depth+1); err != nil {
					return within(err, "[key]")
				}
			}
			if err := w.walk(sh.elem, depth+1); err != nil {
				return within(err, "["+strconv.Itoa(items+k)+"]")
			}
		}
		if size >= 0 && int64(w.i-start) != size {
			return w.fail("block of %d bytes holds %d bytes of items", size, w.i-start)
		}
		items += int(n)
	}
}

// within returns err with its field path under name, a field's name or an index ("[3]").
func within(err error, name string) error {
	var ce *checkError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.field == "":
		ce.field = name
	case ce.field[0] == '[':
		ce.field = name + ce.field
	default:
		ce.field = name + "." + ce.field
	}
	return ce
}

// varint reads a zig-zag varint of at most max bytes.
func (w *walker) varint(max int) (int64, error) {
	var u uint64
	for k := 0; k < max; k++ {
		if w.i >= len(w.b) {
			return 0, w.ends()
		}
		c := w.b[w.i]
		w.i++
		u |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, w.fail("varint longer than %d bytes", max)
}

// skipVarint skips a varint of at most max bytes without decoding it.
func (w *walker) skipVarint(max int) error {
	end := min(w.i+max, len(w.b))
	for j := w.i; j < end; j++ {
		if w.b[j] < 0x80 {
			w.i = j + 1
			return nil
		}
	}
	if end == len(w.b) && end-w.i < max {
		return w.ends()
	}
	return w.fail("varint longer than %d bytes", max)
}

func (w *walker) skip(n int) error {
	if n > len(w.b)-w.i {
		return w.ends()
	}
	w.i += n
	return nil
}

// ends is the error for a body that ends before its record does.
func (w *walker) ends() error {
	return w.fail("the record ends early after %d bytes: cut short, or written with another schema: %w", len(w.b), io.ErrUnexpectedEOF)
}
