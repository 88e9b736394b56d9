package file

import (
	"fmt"
	"path/filepath"
	"time"
)

// HourlyBucket returns the bucket of the UTC hour holding ts (epoch milliseconds), in the Hive
// partition style: "dt=2026-01-01/hour=05".
func HourlyBucket(ts int64) string {
	t := time.UnixMilli(ts).UTC()
	return fmt.Sprintf("dt=%s/hour=%02d", t.Format(time.DateOnly), t.Hour())
}

// bucketDir returns the absolute directory of bucket below root, or an error if bucket escapes
// root.
func bucketDir(root, bucket string) (string, error) {
	if bucket == "" {
		return root, nil
	}
	rel := filepath.FromSlash(bucket)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("file: bucket %q is not a relative path inside %s", bucket, root)
	}
	return filepath.Join(root, rel), nil
}
