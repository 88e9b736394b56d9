package state

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Codec turns values of T into bytes and back. State backends that keep state serialised (the
// Pebble backend) use a codec on every access; the in-memory backend only when it takes or
// restores a snapshot.
//
// Append appends v's encoding to dst and returns the extended slice; it panics with an
// *EncodeError if v cannot be encoded (the gob fallback, for instance, cannot encode a func).
// Decode returns the value encoded by b, which must be exactly one encoding, and an error
// wrapping ErrDecode if it is not one; it never keeps b. Encodings of keys must be
// deterministic: equal keys give equal bytes.
//
// Codecs returned by this package are safe for concurrent use; a Codec given in a Descriptor
// must be too, since a snapshot may encode state on another goroutine than the task's.
type Codec[T any] interface {
	Append(dst []byte, v T) []byte
	Decode(b []byte) (T, error)
}

// ErrDecode is wrapped by the errors of codecs of this package about bytes that are not an
// encoding.
var ErrDecode = errors.New("state: cannot decode")

// EncodeError is the panic value of Append for a value its codec cannot encode. Snapshots
// recover it into an error; handles on a bytes backend let it propagate, as a programming
// error.
type EncodeError struct {
	Type string // the Go type being encoded
	Err  error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("state: cannot encode %s: %v", e.Type, e.Err)
}
func (e *EncodeError) Unwrap() error { return e.Err }

// CodecFor returns the codec for T, built once by reflection (the result is cheap to use and
// may be kept):
//
//   - a type with MarshalBinary and (on its pointer) UnmarshalBinary, such as time.Time, uses
//     them (and AppendBinary if it has it), at any depth;
//   - strings, booleans, integers (as varints), floats, complex numbers, and arrays, slices,
//     maps, pointers and structs made of them have a compact binary encoding. Struct fields are
//     encoded in declaration order, unexported ones too; adding, removing or reordering fields
//     changes the encoding, so state written before such a change cannot be restored after it
//     (give the Descriptor a Codec to control that). Nil and empty slices, maps and pointers
//     stay distinct. Map entries are encoded in iteration order, so a map's bytes vary from
//     one encoding to the next (map types cannot be keys);
//   - recursive types work, cyclic values do not (encoding one never ends);
//   - anything else (interfaces, funcs, channels) makes the whole type fall back to encoding/gob.
//     Gob stores exported struct fields only: unexported fields of such types are silently
//     lost, and a struct with no exported field cannot be encoded at all. Interface values
//     must have their concrete types registered with gob.Register.
//
// Floating-point keys are encoded bit for bit: 0.0 and -0.0, equal as Go keys, are two keys in
// a bytes backend.
func CodecFor[T any]() Codec[T] {
	t := reflect.TypeFor[T]()
	if !hasMarshaler(t) {
		switch t.Kind() {
		case reflect.String:
			return stringCodec[T]{}
		case reflect.Int64, reflect.Int:
			if t.Size() == 8 {
				return int64Codec[T]{}
			}
		case reflect.Uint64, reflect.Uint, reflect.Uintptr:
			if t.Size() == 8 {
				return uint64Codec[T]{}
			}
		case reflect.Float64:
			return float64Codec[T]{}
		case reflect.Bool:
			return boolCodec[T]{}
		case reflect.Slice:
			if e := t.Elem(); e.Kind() == reflect.Uint8 && !hasMarshaler(e) {
				return bytesCodec[T]{}
			}
		}
	}
	b := builder{built: map[reflect.Type]*compiled{}}
	c, err := b.build(t)
	if err != nil {
		return GobCodec[T]()
	}
	return reflectCodec[T]{c: c, name: t.String()}
}

// GobCodec returns a codec using encoding/gob, with the limits CodecFor describes. Each value is
// encoded with its type information, so encodings are self-contained but larger than
// CodecFor's.
func GobCodec[T any]() Codec[T] { return gobCodec[T]{name: reflect.TypeFor[T]().String()} }

// CodecOf returns a Codec made of two functions, for Descriptor.Codec.
func CodecOf[T any](appendFn func(dst []byte, v T) []byte, decodeFn func(b []byte) (T, error)) Codec[T] {
	return funcCodec[T]{appendFn, decodeFn}
}

type funcCodec[T any] struct {
	a func([]byte, T) []byte
	d func([]byte) (T, error)
}

func (c funcCodec[T]) Append(dst []byte, v T) []byte { return c.a(dst, v) }
func (c funcCodec[T]) Decode(b []byte) (T, error)    { return c.d(b) }

func decodeErr(name string, format string, args ...any) error {
	return fmt.Errorf("%w %s: %s", ErrDecode, name, fmt.Sprintf(format, args...))
}

// Fast codecs for top-level scalars. They read T through its kind's layout.

type stringCodec[T any] struct{}

func (stringCodec[T]) Append(dst []byte, v T) []byte {
	s := *(*string)(unsafe.Pointer(&v))
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func (stringCodec[T]) Decode(b []byte) (T, error) {
	var v T
	s, rest, err := readLen(b)
	if err != nil || len(rest) != 0 {
		return v, decodeErr("string", "bad length or trailing bytes")
	}
	*(*string)(unsafe.Pointer(&v)) = string(s)
	return v, nil
}

type bytesCodec[T any] struct{}

func (bytesCodec[T]) Append(dst []byte, v T) []byte {
	s := *(*[]byte)(unsafe.Pointer(&v))
	if s == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	return append(dst, s...)
}

func (bytesCodec[T]) Decode(b []byte) (T, error) {
	var v T
	rest, err := decBytes(b, unsafe.Pointer(&v))
	if err != nil || len(rest) != 0 {
		return v, decodeErr("[]byte", "bad length or trailing bytes")
	}
	return v, nil
}

type int64Codec[T any] struct{}

func (int64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.AppendVarint(dst, *(*int64)(unsafe.Pointer(&v)))
}

func (int64Codec[T]) Decode(b []byte) (T, error) {
	var v T
	x, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return v, decodeErr("int64", "bad varint")
	}
	*(*int64)(unsafe.Pointer(&v)) = x
	return v, nil
}

type uint64Codec[T any] struct{}

func (uint64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.AppendUvarint(dst, *(*uint64)(unsafe.Pointer(&v)))
}

func (uint64Codec[T]) Decode(b []byte) (T, error) {
	var v T
	x, n := binary.Uvarint(b)
	if n <= 0 || n != len(b) {
		return v, decodeErr("uint64", "bad uvarint")
	}
	*(*uint64)(unsafe.Pointer(&v)) = x
	return v, nil
}

type float64Codec[T any] struct{}

func (float64Codec[T]) Append(dst []byte, v T) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(*(*float64)(unsafe.Pointer(&v))))
}

func (float64Codec[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) != 8 {
		return v, decodeErr("float64", "%d bytes, want 8", len(b))
	}
	*(*float64)(unsafe.Pointer(&v)) = math.Float64frombits(binary.LittleEndian.Uint64(b))
	return v, nil
}

type boolCodec[T any] struct{}

func (boolCodec[T]) Append(dst []byte, v T) []byte {
	if *(*bool)(unsafe.Pointer(&v)) {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func (boolCodec[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) != 1 || b[0] > 1 {
		return v, decodeErr("bool", "want one byte 0 or 1")
	}
	*(*bool)(unsafe.Pointer(&v)) = b[0] == 1
	return v, nil
}

// gobCodec encodes each value with a fresh gob encoder, so encodings are self-contained.
type gobCodec[T any] struct{ name string }

func (c gobCodec[T]) Append(dst []byte, v T) []byte {
	buf := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(buf).Encode(&v); err != nil {
		panic(&EncodeError{Type: c.name, Err: err})
	}
	return buf.Bytes()
}

func (c gobCodec[T]) Decode(b []byte) (T, error) {
	var v T
	r := bytes.NewReader(b)
	if err := gob.NewDecoder(r).Decode(&v); err != nil {
		return v, decodeErr(c.name, "gob: %v", err)
	}
	if r.Len() != 0 {
		return v, decodeErr(c.name, "%d trailing bytes", r.Len())
	}
	return v, nil
}

// reflectCodec runs an encoder and decoder compiled from T's type.
type reflectCodec[T any] struct {
	c    *compiled
	name string
}

func (c reflectCodec[T]) Append(dst []byte, v T) []byte { return c.c.enc(dst, unsafe.Pointer(&v)) }

func (c reflectCodec[T]) Decode(b []byte) (T, error) {
	var v T
	rest, err := c.c.dec(b, unsafe.Pointer(&v))
	if err != nil {
		return v, fmt.Errorf("%w %s: %v", ErrDecode, c.name, err)
	}
	if len(rest) != 0 {
		return v, decodeErr(c.name, "%d trailing bytes", len(rest))
	}
	return v, nil
}

// compiled is the encoder and decoder of one type, working on a pointer to a value of it.
// dec decodes into a zero value.
type compiled struct {
	enc func(dst []byte, p unsafe.Pointer) []byte
	dec func(b []byte, p unsafe.Pointer) ([]byte, error)
	// min is the fewest bytes an encoding takes, to bound allocations on corrupt input.
	min int
}

// builder compiles codecs. built holds every type compiled or being compiled: a recursive
// type's inner references get the same *compiled, filled in when its compilation ends.
type builder struct{ built map[reflect.Type]*compiled }

var (
	marshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	unmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	appenderType    = reflect.TypeFor[encoding.BinaryAppender]()
)

func hasMarshaler(t reflect.Type) bool {
	return t.Kind() != reflect.Interface && t.Implements(marshalerType) && reflect.PointerTo(t).Implements(unmarshalerType)
}

var errDecode = errors.New("bad encoding")

func (b *builder) build(t reflect.Type) (*compiled, error) {
	if c, ok := b.built[t]; ok {
		return c, nil
	}
	c := &compiled{}
	b.built[t] = c
	impl, err := b.compile(t)
	if err != nil {
		delete(b.built, t)
		return nil, err
	}
	*c = *impl
	return c, nil
}

// compile compiles t; its element types go through build.
func (b *builder) compile(t reflect.Type) (*compiled, error) {
	if hasMarshaler(t) {
		return marshalerCodec(t), nil
	}
	switch t.Kind() {
	case reflect.String:
		return &compiled{enc: encString, dec: decString, min: 1}, nil
	case reflect.Bool:
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				if *(*bool)(p) {
					return append(dst, 1)
				}
				return append(dst, 0)
			},
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < 1 || b[0] > 1 {
					return nil, errDecode
				}
				*(*bool)(p) = b[0] == 1
				return b[1:], nil
			},
			min: 1,
		}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intCodec(t.Size()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintCodec(t.Size()), nil
	case reflect.Float32:
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				return binary.LittleEndian.AppendUint32(dst, math.Float32bits(*(*float32)(p)))
			},
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < 4 {
					return nil, errDecode
				}
				*(*float32)(p) = math.Float32frombits(binary.LittleEndian.Uint32(b))
				return b[4:], nil
			},
			min: 4,
		}, nil
	case reflect.Float64:
		return &compiled{enc: encFloat64, dec: decFloat64, min: 8}, nil
	case reflect.Complex64:
		f := &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				c := *(*complex64)(p)
				dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(real(c)))
				return binary.LittleEndian.AppendUint32(dst, math.Float32bits(imag(c)))
			},
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < 8 {
					return nil, errDecode
				}
				*(*complex64)(p) = complex(math.Float32frombits(binary.LittleEndian.Uint32(b)), math.Float32frombits(binary.LittleEndian.Uint32(b[4:])))
				return b[8:], nil
			},
			min: 8,
		}
		return f, nil
	case reflect.Complex128:
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				c := *(*complex128)(p)
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(real(c)))
				return binary.LittleEndian.AppendUint64(dst, math.Float64bits(imag(c)))
			},
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < 16 {
					return nil, errDecode
				}
				*(*complex128)(p) = complex(math.Float64frombits(binary.LittleEndian.Uint64(b)), math.Float64frombits(binary.LittleEndian.Uint64(b[8:])))
				return b[16:], nil
			},
			min: 16,
		}, nil
	case reflect.Array:
		return b.array(t)
	case reflect.Slice:
		return b.slice(t)
	case reflect.Map:
		return b.mapCodec(t)
	case reflect.Pointer:
		return b.pointer(t)
	case reflect.Struct:
		return b.structCodec(t)
	}
	return nil, fmt.Errorf("kind %v", t.Kind())
}

func encString(dst []byte, p unsafe.Pointer) []byte {
	s := *(*string)(p)
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func decString(b []byte, p unsafe.Pointer) ([]byte, error) {
	s, rest, err := readLen(b)
	if err != nil {
		return nil, err
	}
	*(*string)(p) = string(s)
	return rest, nil
}

func encFloat64(dst []byte, p unsafe.Pointer) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(*(*float64)(p)))
}

func decFloat64(b []byte, p unsafe.Pointer) ([]byte, error) {
	if len(b) < 8 {
		return nil, errDecode
	}
	*(*float64)(p) = math.Float64frombits(binary.LittleEndian.Uint64(b))
	return b[8:], nil
}

// readLen reads a uvarint length and that many bytes.
func readLen(b []byte) (s, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errDecode
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// readCount reads a nil-or-length prefix (0 = nil, n+1 = n elements) and checks that n elements
// of at least min bytes each fit in what is left.
func readCount(b []byte, min int) (n int, isNil bool, rest []byte, err error) {
	x, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, false, nil, errDecode
	}
	if x == 0 {
		return 0, true, b[k:], nil
	}
	x--
	rest = b[k:]
	if min > 0 && x > uint64(len(rest)/min) || min == 0 && x > 1<<20 {
		return 0, false, nil, errDecode
	}
	return int(x), false, rest, nil
}

func decBytes(b []byte, p unsafe.Pointer) ([]byte, error) {
	n, isNil, rest, err := readCount(b, 1)
	if err != nil {
		return nil, err
	}
	if isNil {
		*(*[]byte)(p) = nil
		return rest, nil
	}
	*(*[]byte)(p) = append(make([]byte, 0, n), rest[:n]...)
	return rest[n:], nil
}

func intCodec(size uintptr) *compiled {
	var get func(unsafe.Pointer) int64
	var set func(unsafe.Pointer, int64) bool
	switch size {
	case 1:
		// int8 is one raw byte.
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte { return append(dst, byte(*(*int8)(p))) },
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < 1 {
					return nil, errDecode
				}
				*(*int8)(p) = int8(b[0])
				return b[1:], nil
			},
			min: 1,
		}
	case 2:
		get = func(p unsafe.Pointer) int64 { return int64(*(*int16)(p)) }
		set = func(p unsafe.Pointer, x int64) bool { *(*int16)(p) = int16(x); return x == int64(int16(x)) }
	case 4:
		get = func(p unsafe.Pointer) int64 { return int64(*(*int32)(p)) }
		set = func(p unsafe.Pointer, x int64) bool { *(*int32)(p) = int32(x); return x == int64(int32(x)) }
	default:
		get = func(p unsafe.Pointer) int64 { return *(*int64)(p) }
		set = func(p unsafe.Pointer, x int64) bool { *(*int64)(p) = x; return true }
	}
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte { return binary.AppendVarint(dst, get(p)) },
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			x, k := binary.Varint(b)
			if k <= 0 || !set(p, x) {
				return nil, errDecode
			}
			return b[k:], nil
		},
		min: 1,
	}
}

func uintCodec(size uintptr) *compiled {
	var get func(unsafe.Pointer) uint64
	var set func(unsafe.Pointer, uint64) bool
	switch size {
	case 1:
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte { return append(dst, *(*uint8)(p)) },
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < 1 {
					return nil, errDecode
				}
				*(*uint8)(p) = b[0]
				return b[1:], nil
			},
			min: 1,
		}
	case 2:
		get = func(p unsafe.Pointer) uint64 { return uint64(*(*uint16)(p)) }
		set = func(p unsafe.Pointer, x uint64) bool { *(*uint16)(p) = uint16(x); return x <= math.MaxUint16 }
	case 4:
		get = func(p unsafe.Pointer) uint64 { return uint64(*(*uint32)(p)) }
		set = func(p unsafe.Pointer, x uint64) bool { *(*uint32)(p) = uint32(x); return x <= math.MaxUint32 }
	default:
		get = func(p unsafe.Pointer) uint64 { return *(*uint64)(p) }
		set = func(p unsafe.Pointer, x uint64) bool { *(*uint64)(p) = x; return true }
	}
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte { return binary.AppendUvarint(dst, get(p)) },
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			x, k := binary.Uvarint(b)
			if k <= 0 || !set(p, x) {
				return nil, errDecode
			}
			return b[k:], nil
		},
		min: 1,
	}
}

// marshalerCodec encodes through MarshalBinary (or AppendBinary) as a length-prefixed string and
// decodes through UnmarshalBinary.
func marshalerCodec(t reflect.Type) *compiled {
	name := t.String()
	appends := t.Implements(appenderType)
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			v := reflect.NewAt(t, p).Elem().Interface()
			var b []byte
			var err error
			if appends {
				b, err = v.(encoding.BinaryAppender).AppendBinary(nil)
			} else {
				b, err = v.(encoding.BinaryMarshaler).MarshalBinary()
			}
			if err != nil {
				panic(&EncodeError{Type: name, Err: err})
			}
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			return append(dst, b...)
		},
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			s, rest, err := readLen(b)
			if err != nil {
				return nil, err
			}
			u := reflect.NewAt(t, p).Interface().(encoding.BinaryUnmarshaler)
			if err := u.UnmarshalBinary(bytes.Clone(s)); err != nil {
				return nil, fmt.Errorf("%s.UnmarshalBinary: %w", name, err)
			}
			return rest, nil
		},
		min: 1,
	}
}

func (b *builder) array(t reflect.Type) (*compiled, error) {
	n, size := t.Len(), t.Elem().Size()
	if t.Elem().Kind() == reflect.Uint8 && !hasMarshaler(t.Elem()) {
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte { return append(dst, unsafe.Slice((*byte)(p), n)...) },
			dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
				if len(b) < n {
					return nil, errDecode
				}
				copy(unsafe.Slice((*byte)(p), n), b)
				return b[n:], nil
			},
			min: n,
		}, nil
	}
	e, err := b.build(t.Elem())
	if err != nil {
		return nil, err
	}
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			for i := range n {
				dst = e.enc(dst, unsafe.Add(p, uintptr(i)*size))
			}
			return dst
		},
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			var err error
			for i := range n {
				if b, err = e.dec(b, unsafe.Add(p, uintptr(i)*size)); err != nil {
					return nil, err
				}
			}
			return b, nil
		},
		min: n * e.min,
	}, nil
}

func (b *builder) slice(t reflect.Type) (*compiled, error) {
	if t.Elem().Kind() == reflect.Uint8 && !hasMarshaler(t.Elem()) {
		return &compiled{
			enc: func(dst []byte, p unsafe.Pointer) []byte {
				s := *(*[]byte)(p)
				if s == nil {
					return append(dst, 0)
				}
				dst = binary.AppendUvarint(dst, uint64(len(s))+1)
				return append(dst, s...)
			},
			dec: decBytes,
			min: 1,
		}, nil
	}
	e, err := b.build(t.Elem())
	if err != nil {
		return nil, err
	}
	size := t.Elem().Size()
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			v := reflect.NewAt(t, p).Elem()
			if v.IsNil() {
				return append(dst, 0)
			}
			n := v.Len()
			dst = binary.AppendUvarint(dst, uint64(n)+1)
			data := v.UnsafePointer()
			for i := range n {
				dst = e.enc(dst, unsafe.Add(data, uintptr(i)*size))
			}
			return dst
		},
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			n, isNil, b, err := readCount(b, e.min)
			if err != nil {
				return nil, err
			}
			v := reflect.NewAt(t, p).Elem()
			if isNil {
				v.SetZero()
				return b, nil
			}
			s := reflect.MakeSlice(t, n, n)
			v.Set(s)
			data := s.UnsafePointer()
			for i := range n {
				if b, err = e.dec(b, unsafe.Add(data, uintptr(i)*size)); err != nil {
					return nil, err
				}
			}
			return b, nil
		},
		min: 1,
	}, nil
}

func (b *builder) mapCodec(t reflect.Type) (*compiled, error) {
	kc, err := b.build(t.Key())
	if err != nil {
		return nil, err
	}
	vc, err := b.build(t.Elem())
	if err != nil {
		return nil, err
	}
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			v := reflect.NewAt(t, p).Elem()
			if v.IsNil() {
				return append(dst, 0)
			}
			dst = binary.AppendUvarint(dst, uint64(v.Len())+1)
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			for it := v.MapRange(); it.Next(); {
				k.SetIterKey(it)
				e.SetIterValue(it)
				dst = kc.enc(dst, k.Addr().UnsafePointer())
				dst = vc.enc(dst, e.Addr().UnsafePointer())
			}
			return dst
		},
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			n, isNil, b, err := readCount(b, max(1, kc.min+vc.min))
			if err != nil {
				return nil, err
			}
			v := reflect.NewAt(t, p).Elem()
			if isNil {
				v.SetZero()
				return b, nil
			}
			m := reflect.MakeMapWithSize(t, n)
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			for range n {
				k.SetZero()
				e.SetZero()
				if b, err = kc.dec(b, k.Addr().UnsafePointer()); err != nil {
					return nil, err
				}
				if b, err = vc.dec(b, e.Addr().UnsafePointer()); err != nil {
					return nil, err
				}
				m.SetMapIndex(k, e)
			}
			v.Set(m)
			return b, nil
		},
		min: 1,
	}, nil
}

func (b *builder) pointer(t reflect.Type) (*compiled, error) {
	e, err := b.build(t.Elem())
	if err != nil {
		return nil, err
	}
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			q := *(*unsafe.Pointer)(p)
			if q == nil {
				return append(dst, 0)
			}
			return e.enc(append(dst, 1), q)
		},
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			if len(b) < 1 || b[0] > 1 {
				return nil, errDecode
			}
			if b[0] == 0 {
				*(*unsafe.Pointer)(p) = nil
				return b[1:], nil
			}
			q := reflect.New(t.Elem()).UnsafePointer()
			rest, err := e.dec(b[1:], q)
			if err != nil {
				return nil, err
			}
			*(*unsafe.Pointer)(p) = q
			return rest, nil
		},
		min: 1,
	}, nil
}

func (b *builder) structCodec(t reflect.Type) (*compiled, error) {
	type field struct {
		off uintptr
		c   *compiled
	}
	var fields []field
	min := 0
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "_" {
			continue
		}
		c, err := b.build(f.Type)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		fields = append(fields, field{f.Offset, c})
		min += c.min
	}
	return &compiled{
		enc: func(dst []byte, p unsafe.Pointer) []byte {
			for _, f := range fields {
				dst = f.c.enc(dst, unsafe.Add(p, f.off))
			}
			return dst
		},
		dec: func(b []byte, p unsafe.Pointer) ([]byte, error) {
			var err error
			for _, f := range fields {
				if b, err = f.c.dec(b, unsafe.Add(p, f.off)); err != nil {
					return nil, err
				}
			}
			return b, nil
		},
		min: min,
	}, nil
}
