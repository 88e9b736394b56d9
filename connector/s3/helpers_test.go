package s3_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

// testEnv is a versitygw with a fresh bucket.
type testEnv struct {
	srv    *s3test.Server
	bucket string
	conn   s3.Connection
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	srv := s3test.Start(t)
	return &testEnv{srv: srv, bucket: srv.Bucket(t), conn: s3.Connection{
		Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
	}}
}

func (e *testEnv) url(prefix string) string { return "s3://" + e.bucket + "/" + prefix }

// put writes an object behind the back of the code under test.
func (e *testEnv) put(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := e.srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatal(err)
	}
}

// objects returns every visible object below prefix: key → content, decompressed.
func (e *testEnv) objects(t *testing.T, prefix string) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	p := awss3.NewListObjectsV2Paginator(e.srv.Client(), &awss3.ListObjectsV2Input{
		Bucket: aws.String(e.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			res, err := e.srv.Client().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(e.bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			var r io.Reader = res.Body
			if strings.HasSuffix(key, ".gz") {
				if r, err = gzip.NewReader(res.Body); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
			}
			b, err := io.ReadAll(r)
			res.Body.Close()
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out[key] = string(b)
		}
	}
	return out
}

// uploads returns the keys of the incomplete multipart uploads of the bucket.
func (e *testEnv) uploads(t *testing.T) []string {
	t.Helper()
	out, err := e.srv.Client().ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	slices.Sort(keys)
	return keys
}

// lines counts the lines of objects.
func lines(objs map[string]string) map[string]int {
	m := map[string]int{}
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		for l := range strings.SplitSeq(strings.TrimSuffix(objs[k], "\n"), "\n") {
			if l != "" {
				m[l]++
			}
		}
	}
	return m
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t *testing.T, s string) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll([]byte(s), nil)
}

// enumCtx is a connector.EnumeratorContext recording what the enumerator does.
type enumCtx struct {
	parallelism int
	assigned    map[int][]connector.Split
	noMore      map[int]bool
}

func newEnumCtx(p int) *enumCtx {
	return &enumCtx{parallelism: p, assigned: map[int][]connector.Split{}, noMore: map[int]bool{}}
}

func (c *enumCtx) Parallelism() int { return c.parallelism }
func (c *enumCtx) Assign(sub int, splits ...connector.Split) {
	c.assigned[sub] = append(c.assigned[sub], splits...)
}
func (c *enumCtx) NoMoreSplits(sub int) { c.noMore[sub] = true }
func (c *enumCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// take returns and forgets the splits assigned to sub.
func (c *enumCtx) take(sub int) []connector.Split {
	s := c.assigned[sub]
	delete(c.assigned, sub)
	return s
}

// output is a connector.ReaderOutput collecting records.
type output struct {
	vals     []string
	released []string
}

type splitOut struct{ o *output }

func (s splitOut) Collect(v string, _ int64) { s.o.vals = append(s.o.vals, v) }

func (o *output) Split(string) connector.SplitOutput[string] { return splitOut{o} }
func (o *output) ReleaseSplit(id string)                     { o.released = append(o.released, id) }

// readUntil calls Read until it says EndOfInput or n records were collected (n < 0: no limit).
func readUntil(t *testing.T, r connector.Reader[string], out *output, n int) connector.ReadStatus {
	t.Helper()
	for range 100000 {
		if n >= 0 && len(out.vals) >= n {
			return connector.MoreAvailable
		}
		st, err := r.Read(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		if st != connector.MoreAvailable {
			return st
		}
	}
	t.Fatal("reader never ended")
	return 0
}

func identity(line []byte) (string, error) { return string(line), nil }
