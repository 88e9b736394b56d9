package s3

import (
	"compress/gzip"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/runnel-io/runnel/eventtime"
)

// Sizes of the sink's multipart uploads.
const (
	// MinPartSize is S3's minimum size of every part of a multipart upload but the last.
	MinPartSize = 5 << 20
	// DefaultPartSize is the default size of the parts a writer uploads while a part object is
	// open.
	DefaultPartSize = 8 << 20
	// DefaultRollSize is the default object size at which a writer rolls to a new part object.
	DefaultRollSize = 128 << 20
	// maxParts is S3's limit on the parts of a multipart upload.
	maxParts = 10000
	// DefaultSuffix is the default suffix of part objects.
	DefaultSuffix = ".jsonl"
)

// SinkOption configures a Sink. Options apply in order; a later option overrides an earlier
// one of the same kind.
type SinkOption func(*sinkConfig)

type sinkConfig struct {
	conn         Connection
	partSize     int64
	rollSize     int64
	rollInterval time.Duration
	suffix       string
	delimiter    string
	gzip         bool
	gzipLevel    int
	clock        eventtime.Clock
	// bucket is a func(T, int64) string (PartitionBy) or a func(int64) string
	// (PartitionByTime); NewSink checks its type against the sink's.
	bucket any
}

func defaultSinkConfig() sinkConfig {
	return sinkConfig{partSize: DefaultPartSize, rollSize: DefaultRollSize, suffix: DefaultSuffix,
		delimiter: "\n", bucket: HourlyPartition}
}

// SinkConnection sets how the sink reaches S3. Default: the zero Connection (the standard AWS
// configuration chain).
func SinkConnection(c Connection) SinkOption { return func(s *sinkConfig) { s.conn = c } }

// PartSize sets the size of the parts a writer uploads while a part object is open: it buffers
// encoded rows in memory until it holds n bytes, then uploads them as one part. Memory per
// writer is about n times the number of partitions it writes at once. Default DefaultPartSize
// (8 MiB); at least MinPartSize (5 MiB, S3's minimum for every part but the last).
func PartSize(n int64) SinkOption { return func(s *sinkConfig) { s.partSize = n } }

// RollSize makes a writer roll to a new part object once the current one holds at least n
// bytes (compressed bytes with Gzip). Writers also roll at every checkpoint whatever the size.
// Default DefaultRollSize (128 MiB); it must be positive and below 10,000 parts (S3's limit)
// of PartSize.
func RollSize(n int64) SinkOption { return func(s *sinkConfig) { s.rollSize = n } }

// RollInterval makes a writer roll a part object that has been open for d when the next record
// arrives for it. Writers also roll at every checkpoint. Default 0: no time-based rolling.
func RollInterval(d time.Duration) SinkOption { return func(s *sinkConfig) { s.rollInterval = d } }

// Suffix sets the suffix of part objects, such as ".jsonl" (the default) or ".csv". With Gzip,
// ".gz" is appended. It must not contain a slash.
func Suffix(suffix string) SinkOption { return func(s *sinkConfig) { s.suffix = suffix } }

// Delimiter sets what the sink appends after each encoded row: "\n" by default, "" for
// encoders that end rows themselves (format/json and format/csv encoders do).
func Delimiter(d string) SinkOption { return func(s *sinkConfig) { s.delimiter = d } }

// Gzip compresses each part object as one gzip stream at level (gzip.DefaultCompression,
// gzip.BestSpeed ... gzip.BestCompression) and appends ".gz" to the suffix. Default: none.
func Gzip(level int) SinkOption { return func(s *sinkConfig) { s.gzip, s.gzipLevel = true, level } }

// Clock sets the clock RollInterval measures with. Default the wall clock.
func Clock(c eventtime.Clock) SinkOption { return func(s *sinkConfig) { s.clock = c } }

// PartitionBy writes each record below the partition partition(v, ts) returns: a relative key
// path such as "country=fr" or "dt=2026-01-01/hour=05" ("" is the prefix itself). It must not
// be absolute, contain "." or ".." segments or empty segments, or the write fails. T must be
// the sink's record type, or NewSink fails. partition is called from the subtasks' goroutines
// concurrently. Default: HourlyPartition of the record's timestamp.
func PartitionBy[T any](partition func(v T, ts int64) string) SinkOption {
	return func(s *sinkConfig) { s.bucket = partition }
}

// PartitionByTime partitions records by their timestamp (epoch milliseconds) alone.
func PartitionByTime(partition func(ts int64) string) SinkOption {
	return func(s *sinkConfig) { s.bucket = partition }
}

// NoPartitions writes every record directly below the sink's prefix.
func NoPartitions() SinkOption { return func(s *sinkConfig) { s.bucket = nil } }

// HourlyPartition returns the Hive-style partition of the UTC hour holding ts (epoch
// milliseconds): "dt=2026-01-01/hour=05". It is the sink's default partitioning.
func HourlyPartition(ts int64) string {
	t := time.UnixMilli(ts).UTC()
	return fmt.Sprintf("dt=%s/hour=%02d", t.Format(time.DateOnly), t.Hour())
}

// validateSink checks the options and returns the partition function for records of type T
// (nil when every record goes directly below the prefix).
func validateSink[T any](c *sinkConfig) (func(T, int64) string, error) {
	if err := c.conn.Validate(); err != nil {
		return nil, err
	}
	if c.partSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of 5 MiB", c.partSize)
	}
	if c.rollSize <= 0 {
		return nil, fmt.Errorf("s3: roll size %d is not positive", c.rollSize)
	}
	if c.rollSize/c.partSize >= maxParts {
		return nil, fmt.Errorf("s3: roll size %d needs more than S3's %d parts of %d bytes", c.rollSize, maxParts, c.partSize)
	}
	if c.rollInterval < 0 {
		return nil, fmt.Errorf("s3: roll interval %v is negative", c.rollInterval)
	}
	if strings.Contains(c.suffix, "/") {
		return nil, fmt.Errorf("s3: suffix %q contains a slash", c.suffix)
	}
	if c.gzip && (c.gzipLevel < gzip.HuffmanOnly || c.gzipLevel > gzip.BestCompression) {
		return nil, fmt.Errorf("s3: invalid gzip level %d", c.gzipLevel)
	}
	if c.clock == nil {
		c.clock = eventtime.RealClock()
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
		return nil, fmt.Errorf("s3: partition function %T does not take the sink's records of type %v",
			c.bucket, reflect.TypeOf(zero).Elem())
	}
}

// checkPartition reports whether p is a relative key path without empty, "." or ".."
// segments.
func checkPartition(p string) error {
	if p == "" {
		return nil
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("s3: partition %q is not a relative key path (empty, \".\" or \"..\" segment)", p)
		}
	}
	return nil
}
