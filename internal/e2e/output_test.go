package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

// The S3 side of the exactly-once tests: every job writes the IDs of its input records, one
// decimal number per line, through the exactly-once S3 sink; the test reads back the committed
// objects (those a listing shows: an upload not completed is invisible) and counts each ID.

// target returns where a job of the test writes: a fresh bucket of srv.
func target(t *testing.T, srv *s3test.Server) s3Target {
	return s3Target{Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Bucket: srv.Bucket(t), Prefix: "out"}
}

// idSink returns the exactly-once sink of IDs into c, one per line.
func idSink(c s3Target) (*file.Sink[int], error) {
	fsys, err := s3.NewFS(context.Background(), s3.Config{Connection: s3.Connection{Endpoint: c.Endpoint, Region: c.Region,
		AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey}})
	if err != nil {
		return nil, err
	}
	return file.NewSink(file.SinkConfig[int]{FS: fsys, Dir: fmt.Sprintf("s3://%s/%s", c.Bucket, c.Prefix),
		Encode: func(dst []byte, id int) []byte { return append(strconv.AppendInt(dst, int64(id), 10), '\n') }})
}

// committedIDs lists the objects below c's prefix and returns how often each ID occurs in
// them, and the number of objects.
func committedIDs(ctx context.Context, cl *awss3.Client, c s3Target) (map[int]int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	counts := map[int]int{}
	objects := 0
	p := awss3.NewListObjectsV2Paginator(cl, &awss3.ListObjectsV2Input{
		Bucket: aws.String(c.Bucket), Prefix: aws.String(c.Prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("listing s3://%s/%s: %w", c.Bucket, c.Prefix, err)
		}
		for _, o := range page.Contents {
			objects++
			out, err := cl.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: o.Key})
			if err != nil {
				return nil, 0, fmt.Errorf("reading %s: %w", aws.ToString(o.Key), err)
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				return nil, 0, fmt.Errorf("reading %s: %w", aws.ToString(o.Key), err)
			}
			for line := range bytes.Lines(body) {
				id, err := strconv.Atoi(string(bytes.TrimSuffix(line, []byte("\n"))))
				if err != nil {
					return nil, 0, fmt.Errorf("object %s: line %q: %w", aws.ToString(o.Key), line, err)
				}
				counts[id]++
			}
		}
	}
	return counts, objects, nil
}

// committedCount returns a function counting the distinct IDs committed to c, for
// crashRun.committed. It fails the test when S3 cannot be read.
func committedCount(t *testing.T, srv *s3test.Server, c s3Target) func() int {
	return func() int {
		counts, _, err := committedIDs(t.Context(), srv.Client(), c)
		if err != nil {
			t.Fatal(err)
		}
		return len(counts)
	}
}

// checkExactlyOnce fails the test unless the committed objects of c hold each of 0..n-1 once
// and nothing else.
func checkExactlyOnce(t *testing.T, cl *awss3.Client, c s3Target, n int) {
	t.Helper()
	counts, objects, err := committedIDs(t.Context(), cl, c)
	if err != nil {
		t.Fatal(err)
	}
	var missing, dup, extra []int
	for id, k := range counts {
		switch {
		case id < 0 || id >= n:
			extra = append(extra, id)
		case k > 1:
			dup = append(dup, id)
		}
	}
	for id := range n {
		if counts[id] == 0 {
			missing = append(missing, id)
		}
	}
	t.Logf("%d committed objects hold %d distinct IDs", objects, len(counts))
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Fatalf("of %d IDs: %d missing %v, %d duplicated %v, %d unknown %v", n,
			len(missing), head(missing), len(dup), head(dup), len(extra), head(extra))
	}
}

func head(s []int) []int { return s[:min(len(s), 10)] }
