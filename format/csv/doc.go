// Package csv decodes and encodes CSV records (RFC 4180) to and from a struct type T.
//
// Columns map to the exported fields of T by `csv:"name"` tags, or by field name when a field has
// no tag; `csv:"-"` skips a field. Without a header, columns are the mapped fields in declaration
// order. With one, Decoder.WithHeader binds columns by name. Field types are string, bool, the
// signed and unsigned integers, float32 and float64, time.Time, and any type whose pointer
// implements encoding.TextUnmarshaler (decoding) or which implements encoding.TextMarshaler
// (encoding). A time.Time is RFC 3339 text unless its tag says `csv:"name,epochms"` (integer
// epoch milliseconds). Fields are resolved once, when the Decoder or Encoder is made; an
// unsupported field type is an error then, not per record.
//
// Records are split by a hand-written RFC 4180 splitter (quoted fields, "" for a quote,
// quoted commas and line breaks), measured faster than encoding/csv for one record at a time
// (bench_test.go). ScanRecords frames a stream into records for bufio.Scanner, keeping line
// breaks inside quotes.
package csv
