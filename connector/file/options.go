package file

import (
	"compress/gzip"
	"fmt"
	"reflect"
	"strings"
)

// DefaultRollSize is the part-file size at which a writer rolls to a new part file.
const DefaultRollSize = 128 << 20

// DefaultSuffix is the suffix of committed part files.
const DefaultSuffix = ".jsonl"

// Option configures a Sink. Options are applied in order; a later option overrides an earlier
// one of the same kind.
type Option func(*config)

type config struct {
	rollSize  int64
	suffix    string
	delimiter string
	gzip      bool
	gzipLevel int
	// bucket is a func(T, int64) string (BucketBy) or a func(int64) string (HourlyBuckets);
	// NewSink checks its type against the sink's.
	bucket any
}

func defaultConfig() config {
	return config{rollSize: DefaultRollSize, suffix: DefaultSuffix, delimiter: "\n"}
}

// RollSize makes a writer roll to a new part file once the current one holds at least n bytes
// (bytes on disk: with Gzip, compressed bytes, which lag the input by the compressor's buffer).
// The default is DefaultRollSize (128 MiB). Writers also roll at every PreCommit whatever the
// size. n must be positive.
func RollSize(n int64) Option { return func(c *config) { c.rollSize = n } }

// Suffix sets the suffix of committed part files, such as ".jsonl" (the default) or ".csv".
// With Gzip, ".gz" is appended to it. It must not contain a path separator.
func Suffix(s string) Option { return func(c *config) { c.suffix = s } }

// Delimiter sets what the sink appends after each encoded row: "\n" by default (line formats),
// "" for formats whose encoder delimits rows itself.
func Delimiter(d string) Option { return func(c *config) { c.delimiter = d } }

// Gzip compresses each part file as one gzip stream at the given level (gzip.DefaultCompression,
// gzip.BestSpeed ... gzip.BestCompression, gzip.HuffmanOnly) and appends ".gz" to the suffix.
// The default is no compression.
func Gzip(level int) Option { return func(c *config) { c.gzip, c.gzipLevel = true, level } }

// BucketBy writes each record to the bucket bucket(v, ts) returns: a relative directory below the
// sink's root, such as "country=fr" or "dt=2026-01-01/hour=05" ("" is the root itself). It
// must return a local path (no "..", not absolute) or the write fails. T must be the sink's
// record type, or NewSink fails. The default puts every record in the root. bucket is called
// from the subtasks' goroutines concurrently.
func BucketBy[T any](bucket func(v T, ts int64) string) Option {
	return func(c *config) { c.bucket = bucket }
}

// HourlyBuckets buckets records by the UTC hour of their timestamp, as HourlyBucket formats it.
func HourlyBuckets() Option {
	return func(c *config) { c.bucket = HourlyBucket }
}

// validate checks the options, and returns the bucket function for records of type T (nil when
// every record goes to the root).
func validate[T any](c *config) (func(T, int64) string, error) {
	if c.rollSize <= 0 {
		return nil, fmt.Errorf("file: roll size %d is not positive", c.rollSize)
	}
	if strings.ContainsAny(c.suffix, `/\`) {
		return nil, fmt.Errorf("file: suffix %q contains a path separator", c.suffix)
	}
	if strings.HasSuffix(c.suffix, inProgressExt) || strings.HasSuffix(c.suffix, pendingExt) {
		return nil, fmt.Errorf("file: suffix %q would hide committed files", c.suffix)
	}
	if c.gzip && (c.gzipLevel < gzip.HuffmanOnly || c.gzipLevel > gzip.BestCompression) {
		return nil, fmt.Errorf("file: invalid gzip level %d", c.gzipLevel)
	}
	switch f := c.bucket.(type) {
	case nil:
		return nil, nil
	case func(T, int64) string:
		return f, nil
	case func(int64) string:
		return func(_ T, ts int64) string { return f(ts) }, nil
	default:
		var zero *T
		return nil, fmt.Errorf("file: bucket function %T does not take the sink's records of type %v",
			c.bucket, reflect.TypeOf(zero).Elem())
	}
}
