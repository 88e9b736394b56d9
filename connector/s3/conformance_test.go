package s3_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/connectortest"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

// TestConformance runs the connector conformance suite on the S3 source (plain and gzip
// objects, bounded and monitoring) and the exactly-once S3 sink, against versitygw.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	conn := s3.Connection{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	for _, monitor := range []bool{false, true} {
		name := map[bool]string{false: "Source/Bounded", true: "Source/Monitor"}[monitor]
		t.Run(name, func(t *testing.T) {
			connectortest.Source(t, connectortest.SourceHarness[string]{
				Setup: func(t *testing.T) connectortest.SourceFixture[string] {
					bucket := srv.Bucket(t)
					var want []string
					for o := range 5 {
						var b strings.Builder
						for i := range 60 {
							l := strconv.Itoa(o*60 + i)
							b.WriteString(l + "\n")
							want = append(want, l)
						}
						key, body := fmt.Sprintf("in/part-%d.jsonl", o), []byte(b.String())
						if o == 4 {
							key += ".gz"
							body = conformanceGzip(t, body)
						}
						if _, err := srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{
							Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
							t.Fatal(err)
						}
					}
					return connectortest.SourceFixture[string]{Want: want, New: func() connector.Source[string] {
						opts := []s3.SourceOption{s3.SourceConnection(conn), s3.BatchLines(7)}
						if monitor {
							opts = append(opts, s3.Monitor(time.Hour)) // the suite calls Discover itself
						}
						src, err := s3.NewSource("s3://"+bucket+"/in", func(l []byte) (string, error) { return string(l), nil }, opts...)
						if err != nil {
							t.Fatal(err)
						}
						return src
					}}
				},
				Key: func(s string) string { return s },
			})
		})
	}
	t.Run("Sink", func(t *testing.T) {
		connectortest.Sink(t, connectortest.SinkHarness[int]{
			Setup: func(t *testing.T) connectortest.SinkFixture[int] {
				bucket := srv.Bucket(t)
				return connectortest.SinkFixture[int]{
					New: func() connector.Sink[int] {
						s, err := s3.NewSink("s3://"+bucket+"/out", func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) },
							s3.SinkConnection(conn))
						if err != nil {
							t.Fatal(err)
						}
						return s
					},
					Visible: func(t *testing.T) []string { return conformanceVisible(t, srv, bucket, "out/") },
				}
			},
			Record:      func(i int) int { return i },
			Key:         strconv.Itoa,
			ExactlyOnce: true,
		})
	})
}

func conformanceGzip(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// conformanceVisible returns the lines of the objects below prefix that a listing shows.
func conformanceVisible(t *testing.T, srv *s3test.Server, bucket, prefix string) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	p := awss3.NewListObjectsV2Paginator(srv.Client(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			res, err := srv.Client().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for l := range strings.SplitSeq(string(b), "\n") {
				if l != "" {
					out = append(out, l)
				}
			}
		}
	}
	return out
}
