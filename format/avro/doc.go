// Package avro decodes and encodes single Avro records: a Kafka message's value, a Kinesis
// record's data. It maps a record to a Go type T with the same `json:"name"` struct tags the
// other codecs read, so one struct serves JSON lines, CSV, Parquet and Avro alike.
//
// The encoding is Avro's binary encoding (github.com/hamba/avro/v2, chosen because it is the
// maintained pure-Go implementation with schema resolution and reflection onto structs; its
// TagKey is set to "json" here). Two framings are supported:
//
//   - Plain: the body alone, written and read with one schema, Options.Schema or the one
//     SchemaOf[T] derives from T.
//   - Confluent: the Schema Registry wire format that most Kafka and MSK producers of Avro
//     write: a zero magic byte, the writer schema's ID as four big-endian bytes, then the body.
//     The Decoder looks the ID up in a Registry (RegistryClient speaks the Schema Registry REST
//     API; MemoryRegistry holds schemas given in code), caches it, and resolves the writer
//     schema against the reader schema by Avro's rules, so fields added with a default or
//     removed since the record was written decode as the specification says. The Encoder writes
//     the header with Options.SchemaID.
//
// SchemaOf derives a record schema from T's exported fields: bool, integers up to 32 bits (int),
// int, int64 and uint32 (long), float32 (float), float64 (double), string, []byte (bytes),
// time.Time (long, timestamp-millis), pointers (a union with null, default null), slices
// (array), maps with string keys (map) and structs (records, named after their Go type).
// Primitive, array and map fields get their type's zero value as default and pointers get null,
// so a reader schema derived from T reads records written before a field was added, as
// encoding/json would leave the missing field at its zero value. The fields of an embedded
// struct become the record's, and a field hides a deeper one of the same name, as in
// encoding/json. Where hamba/avro would map a struct otherwise than encoding/json, SchemaOf
// returns an error naming the field rather than a schema that loses data: a json tag without
// a name (`json:",omitempty"`, which hamba/avro reads as the name ""), an embedded field with a
// tag or of pointer or non-struct type, two fields of one name at one depth.
//
// A Decoder turns one record into a T or a *format.RecordError naming the source, position,
// field path and reason, with a copy of the raw bytes; the connector then applies its
// format.Policy. Truncated bodies, bytes left over after the record, a wrong magic byte, an ID
// the registry does not know and a writer schema that cannot be resolved against T's are such
// errors. Before the library reads a body, the Decoder walks it by the writer schema (check.go),
// so that a corrupt length or count cannot make the library allocate more than the body can
// hold or loop over items that are not there, and nesting cannot overflow the stack. A registry
// that cannot be reached is not the record's fault: that error wraps format.ErrUnavailable, which
// fails the job under every policy (a restart retries the record) instead of sending good
// records to the dead letter.
//
// Avro object container files (.avro: a header holding the schema, then blocks of records,
// compressed with null, deflate, snappy or zstandard) are written by FileWriter and read by
// FileReader, which the file and S3 connectors use for their Avro sinks and sources. The
// library's container encoder is used with its default configuration for the header, and the
// records are encoded by an Encoder (json tags) and handed to it as bytes. A corrupt block
// gives an error naming the file and record (FuzzFileReader); one caveat remains: the library
// allocates a block's length as its header states before it reads the block, so a length field
// corrupted to a huge value makes it try to allocate that much.
package avro
