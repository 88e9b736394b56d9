package avro

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/runnel-io/runnel/format"
)

// Framing says what surrounds a record's Avro body.
type Framing uint8

const (
	// Plain records are the Avro body alone.
	Plain Framing = iota
	// Confluent records start with a zero magic byte and the writer schema's ID in four
	// big-endian bytes: the Schema Registry wire format.
	Confluent
)

// String returns "plain" or "confluent".
func (f Framing) String() string {
	switch f {
	case Plain:
		return "plain"
	case Confluent:
		return "confluent"
	}
	return fmt.Sprintf("Framing(%d)", uint8(f))
}

// Options configure a Decoder or an Encoder. The zero Options read and write plain records with
// the schema SchemaOf derives from T.
type Options struct {
	// Schema is the Avro schema (JSON) of T's records; empty derives it with SchemaOf. Plain
	// records are written and read with it. Confluent records are written with it and read by
	// resolving their writer schema against it.
	Schema string
	// Framing is Plain (the default) or Confluent.
	Framing Framing
	// Registry gives the writer schemas of Confluent records by ID. A Confluent Decoder needs
	// one.
	Registry Registry
	// SchemaID is the ID a Confluent Encoder writes: Schema's ID in the registry.
	SchemaID int
	// RegistryTimeout bounds one registry lookup; 0 means 10 s.
	RegistryTimeout time.Duration
	// MaxBytes caps one bytes or string value and MaxItems one array or map; 0 means 16 MiB
	// and 1,048,576 items. A longer value makes the record malformed. Whatever they are set to,
	// the decoder allocates no more for a value than the record's bytes can hold (check.go).
	MaxBytes, MaxItems int
}

// Validate reports whether o is usable: a known Framing, no negative timeout or limit, and a
// SchemaID that fits the wire format's four bytes. Whether the schema parses and fits T is
// known only with T: NewDecoder and NewEncoder check that.
func (o Options) Validate() error {
	switch {
	case o.Framing > Confluent:
		return fmt.Errorf("avro: invalid framing %d", uint8(o.Framing))
	case o.SchemaID < 0 || o.SchemaID > math.MaxInt32:
		return fmt.Errorf("avro: SchemaID %d is not a Schema Registry ID (1 to %d)", o.SchemaID, math.MaxInt32)
	case o.RegistryTimeout < 0:
		return fmt.Errorf("avro: negative RegistryTimeout %v", o.RegistryTimeout)
	case o.MaxBytes < 0 || o.MaxItems < 0:
		return fmt.Errorf("avro: negative MaxBytes %d or MaxItems %d", o.MaxBytes, o.MaxItems)
	}
	return nil
}

const (
	magicByte      = 0
	headerSize     = 5
	defaultTimeout = 10 * time.Second
)

// resolved is how records of one writer schema are read: with schema, after check has walked
// them by writer, or not at all (err, which is the record's fault: an unknown ID or a schema that
// does not resolve against the reader's).
type resolved struct {
	schema hamba.Schema
	writer *shape
	err    error
}

// codec holds what a Decoder and an Encoder share.
type codec[T any] struct {
	opts     Options
	api      hamba.API
	schema   hamba.Schema // T's: the reader schema, and the one the Encoder writes
	derived  bool         // schema came from SchemaOf, so its top name may follow the writer's
	maxBytes int          // opts.MaxBytes, or its default
	maxItems int          // opts.MaxItems, or its default
	shape    *shape       // schema's, to check Plain records by
	sample   T            // the smallest record's value
}

func newCodec[T any](opts Options) (*codec[T], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &codec[T]{opts: opts}
	text := opts.Schema
	if text == "" {
		var err error
		if text, err = SchemaOf[T](); err != nil {
			return nil, err
		}
		c.derived = true
	}
	s, err := parse(text)
	if err != nil {
		return nil, fmt.Errorf("avro: schema of %s: %w", reflect.TypeFor[T](), err)
	}
	c.schema = s
	c.maxBytes, c.maxItems = opts.MaxBytes, opts.MaxItems
	if c.maxBytes == 0 {
		c.maxBytes = 16 << 20
	}
	if c.maxItems == 0 {
		c.maxItems = 1 << 20
	}
	c.api = hamba.Config{
		TagKey:               "json",
		UnionResolutionError: true,
		// Blocks of arrays and maps as plain item counts, as Avro's Java encoder writes them:
		// the byte-size form is valid too, and read, but not every reader takes it.
		DisableBlockSizeHeader: true,
		MaxByteSliceSize:       c.maxBytes,
		MaxSliceAllocSize:      c.maxItems,
	}.Freeze()
	if c.shape, err = compile(c.schema); err != nil {
		return nil, fmt.Errorf("avro: schema of %s: %w", reflect.TypeFor[T](), err)
	}
	// Decode the smallest record of the schema, so that a T the schema does not fit fails
	// here, not on the first record.
	if body, ok := c.shape.smallest(nil, 0); ok {
		if err := c.api.Unmarshal(c.schema, body, &c.sample); err != nil {
			return nil, c.misfit(err)
		}
	}
	return c, nil
}

// misfit is the error for a T that the schema does not fit.
func (c *codec[T]) misfit(err error) error {
	return fmt.Errorf("avro: %s does not fit the schema %s: %w", reflect.TypeFor[T](), c.schema.String(), err)
}

// parse parses a schema with a cache of its own: hamba's default cache is global, and two
// schemas that define one name differently must not see each other's definitions.
func parse(text string) (hamba.Schema, error) {
	return hamba.ParseWithCache(text, "", &hamba.SchemaCache{})
}

// Decoder decodes single Avro records into T. It is safe for concurrent use.
type Decoder[T any] struct {
	*codec[T]
	ids     schemaCache
	readers sync.Pool
}

// NewDecoder returns a Decoder for T. It fails if opts are invalid, if the schema does not parse,
// if T does not fit it (a field of another type), or if a Confluent Decoder has no Registry.
// Schema fields that T lacks are skipped, and T's fields that the schema lacks stay zero.
func NewDecoder[T any](opts Options) (*Decoder[T], error) {
	c, err := newCodec[T](opts)
	if err != nil {
		return nil, err
	}
	if opts.Framing == Confluent && opts.Registry == nil {
		return nil, errors.New("avro: a Confluent decoder needs a Registry to look schema IDs up")
	}
	d := &Decoder[T]{codec: c}
	d.readers.New = func() any { return hamba.NewReader(nil, 0, hamba.WithReaderConfig(c.api)) }
	return d, nil
}

// Decode decodes one record. On failure it returns the zero T and a *format.RecordError at pos
// holding a copy of raw, whose Field is the path of the field at fault when it is known
// ("lines[2].sku") and whose reason names the schema ID of a Confluent record when it is at
// fault; it wraps format.ErrUnavailable when the registry could not be reached. Decode does not
// keep raw.
func (d *Decoder[T]) Decode(raw []byte, pos format.Position) (T, *format.RecordError) {
	var v T
	if err := d.Unmarshal(raw, &v); err != nil {
		var zero T
		var ce *checkError
		if errors.As(err, &ce) && ce.field != "" {
			return zero, format.NewRecordError("avro", pos, ce.field, raw, ce.err)
		}
		return zero, format.NewRecordError("avro", pos, "", raw, err)
	}
	return v, nil
}

// Unmarshal decodes raw into *v as Decode does, returning the bare reason instead of a
// RecordError: the shape a connector's decode function takes
// (kafka.NewDecodedSource(cfg, func(r *kafka.Record) (T, error) {...})). On error *v may be
// partly written.
func (d *Decoder[T]) Unmarshal(raw []byte, v *T) (err error) {
	defer func() {
		// FuzzDecode fuzzes the library through this package; this keeps a bug left in it from
		// taking the task down on one bad record.
		if p := recover(); p != nil {
			err = fmt.Errorf("avro: decoder panic: %v", p)
		}
	}()
	schema, writer, body, err := d.schemaOf(raw)
	if err != nil {
		return err
	}
	if err := check(writer, body, d.maxBytes, d.maxItems); err != nil {
		return err
	}
	return d.unmarshal(schema, body, v)
}

// unmarshal reads exactly one record of schema from body into v.
func (d *Decoder[T]) unmarshal(schema hamba.Schema, body []byte, v *T) error {
	r := d.readers.Get().(*hamba.Reader)
	defer func() {
		r.Reset(nil) // not to keep body
		d.readers.Put(r)
	}()
	r.Reset(body)
	r.Error = nil
	r.ReadVal(schema, v)
	if err := r.Error; err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// The library's message names the last field it tried, not the one cut short.
			return fmt.Errorf("the record ends early after %d bytes: cut short, or written with another schema: %w", len(body), io.ErrUnexpectedEOF)
		}
		return err
	}
	r.Peek() // io.EOF when the body is used up
	if r.Error == nil {
		return fmt.Errorf("bytes are left after the record (%d bytes in all): it was written with another schema", len(body))
	}
	return nil
}

// schemaOf returns the schema to read raw's body with, the writer's shape and the body.
func (d *Decoder[T]) schemaOf(raw []byte) (hamba.Schema, *shape, []byte, error) {
	if d.opts.Framing == Plain {
		return d.schema, d.shape, raw, nil
	}
	if len(raw) < headerSize {
		return nil, nil, nil, fmt.Errorf("a Confluent record needs a 5-byte header, got %d bytes", len(raw))
	}
	if raw[0] != magicByte {
		return nil, nil, nil, fmt.Errorf("magic byte %d, want 0: not in the Confluent wire format", raw[0])
	}
	id := int(int32(binary.BigEndian.Uint32(raw[1:headerSize])))
	r, ok := d.ids.get(id)
	if !ok {
		var err error
		if r, err = d.resolve(id); err != nil {
			return nil, nil, nil, err
		}
		d.ids.put(id, r)
	}
	if r.err != nil {
		return nil, nil, nil, r.err
	}
	return r.schema, r.writer, raw[headerSize:], nil
}

// resolve looks id up in the registry and resolves its schema against T's. It returns an error
// only when the registry could not be reached; what is the record's fault is in resolved.err.
func (d *Decoder[T]) resolve(id int) (*resolved, error) {
	timeout := d.opts.RegistryTimeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	text, err := d.opts.Registry.Schema(ctx, id)
	if errors.Is(err, ErrUnknownSchema) {
		return &resolved{err: fmt.Errorf("schema ID %d: %w", id, err)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("schema ID %d: %w: %w", id, format.ErrUnavailable, err)
	}
	writer, err := parse(text)
	if err != nil {
		return &resolved{err: fmt.Errorf("schema ID %d does not parse: %w", id, err)}, nil
	}
	shape, err := compile(writer)
	if err != nil {
		return &resolved{err: fmt.Errorf("schema ID %d: %w", id, err)}, nil
	}
	reader := d.schema
	if d.derived && reader.Type() == hamba.Record && writer.Type() == hamba.Record {
		// A schema derived from T is named after the Go type; take the writer's name instead, as
		// a user writing T for a topic would.
		name := writer.(*hamba.RecordSchema).FullName()
		if reader.(*hamba.RecordSchema).FullName() != name {
			text, err := schemaOf(reflect.TypeFor[T](), name)
			if err == nil {
				reader, err = parse(text)
			}
			if err != nil {
				return &resolved{err: fmt.Errorf("schema ID %d: %w", id, err)}, nil
			}
		}
	}
	if writer.Fingerprint() == reader.Fingerprint() {
		return &resolved{schema: reader, writer: shape}, nil
	}
	s, err := hamba.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		return &resolved{err: fmt.Errorf("schema ID %d cannot be read as %s: %w", id, reflect.TypeFor[T](), err)}, nil
	}
	return &resolved{schema: s, writer: shape}, nil
}

// Encoder encodes T as single Avro records. It is safe for concurrent use.
type Encoder[T any] struct {
	*codec[T]
	header  [headerSize]byte
	writers sync.Pool
}

// NewEncoder returns an Encoder for T. It fails if opts are invalid, if the schema does not parse,
// if T does not fit it (a field of another type, or a schema field without a default that T
// lacks), or if a Confluent Encoder has no SchemaID.
func NewEncoder[T any](opts Options) (*Encoder[T], error) {
	c, err := newCodec[T](opts)
	if err != nil {
		return nil, err
	}
	// Encode the sample, which, unlike T's zero value, holds a valid symbol for an enum and a
	// value for a union without null. A schema field that T lacks fails here unless it has a
	// default.
	if _, err := c.api.Marshal(c.schema, c.sample); err != nil {
		return nil, c.misfit(err)
	}
	e := &Encoder[T]{codec: c}
	if opts.Framing == Confluent {
		if opts.SchemaID == 0 {
			return nil, errors.New("avro: a Confluent encoder needs the schema's SchemaID")
		}
		binary.BigEndian.PutUint32(e.header[1:], uint32(opts.SchemaID))
	}
	e.writers.New = func() any { return hamba.NewWriter(nil, 512, hamba.WithWriterConfig(c.api)) }
	return e, nil
}

// Append appends v's record to dst.
func (e *Encoder[T]) Append(dst []byte, v T) ([]byte, error) {
	w := e.writers.Get().(*hamba.Writer)
	defer e.writers.Put(w)
	w.Reset(nil)
	w.Error = nil
	w.WriteVal(e.schema, v)
	if w.Error != nil {
		return dst, fmt.Errorf("avro: encoding %s: %w", reflect.TypeFor[T](), w.Error)
	}
	if e.opts.Framing == Confluent {
		dst = append(dst, e.header[:]...)
	}
	return append(dst, w.Buffer()...), nil
}
