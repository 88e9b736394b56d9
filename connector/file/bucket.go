package file

import (
	"fmt"
	"time"
)

// HourlyBucket returns the bucket of the UTC hour holding ts (epoch milliseconds), in the Hive
// partition style: "dt=2026-01-01/hour=05".
func HourlyBucket(ts int64) string {
	t := time.UnixMilli(ts).UTC()
	return fmt.Sprintf("dt=%s/hour=%02d", t.Format(time.DateOnly), t.Hour())
}

// Hourly is a SinkConfig.Bucket that buckets records of type T by the UTC hour of their
// timestamp (HourlyBucket): set Bucket to file.Hourly[T].
func Hourly[T any](_ T, ts int64) string { return HourlyBucket(ts) }
