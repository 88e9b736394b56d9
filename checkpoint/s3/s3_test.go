package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	s3store "github.com/runnel-io/runnel/checkpoint/s3"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

// s3Target is where the S3 tests write: a versitygw started for the test, or the real S3 of
// $RUNNEL_S3_URL.
type s3Target struct {
	srv  *s3test.Server // nil for $RUNNEL_S3_URL
	base string         // the URL of $RUNNEL_S3_URL
}

func newS3Target(t *testing.T) *s3Target {
	t.Helper()
	if testing.Short() {
		t.Skip("S3 tests start a server (and may build it first); skipped in -short mode")
	}
	if base := os.Getenv(s3test.EnvURL); base != "" {
		return &s3Target{base: base}
	}
	srv := s3test.Start(t)
	srv.SetEnv(t) // the storages find the server through AWS_ENDPOINT_URL
	return &s3Target{srv: srv}
}

// url returns the URL of a new, empty storage: a fresh bucket on versitygw, a fresh prefix
// below $RUNNEL_S3_URL (emptied after the test).
func (x *s3Target) url(t *testing.T) string {
	t.Helper()
	if x.srv != nil {
		return "s3://" + x.srv.Bucket(t) + "/checkpoints"
	}
	parsed, err := url.Parse(x.base)
	if err != nil {
		t.Fatalf("%s: %v", s3test.EnvURL, err)
	}
	parsed.Path = strings.TrimSuffix(parsed.Path, "/") + "/runnel-test-" + randomHex(8)
	u := parsed.String()
	t.Cleanup(func() {
		ctx := context.Background()
		st, err := schemes.Open(ctx, u)
		if err != nil {
			t.Errorf("cleaning up %s: %v", u, err)
			return
		}
		files, _ := st.List(ctx, "")
		for _, f := range files {
			_ = st.Delete(ctx, f.Name)
		}
	})
	return u
}

func (x *s3Target) open(t *testing.T) *s3store.Storage {
	t.Helper()
	u := x.url(t)
	st, err := schemes.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open(%q): %v", u, err)
	}
	s, ok := st.(*s3store.Storage)
	if !ok {
		t.Fatalf("Open(%q) = %T, want *s3store.Storage", u, st)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	x := newS3Target(t)
	checkpointtest.StorageSuite(t, func(t *testing.T) checkpoint.Storage { return x.open(t) })
}

// TestS3Multipart writes a file of several parts: invisible until Close, whole after it; and
// checks that Abort in the middle of a multipart upload leaves neither a file nor an upload.
func TestS3Multipart(t *testing.T) {
	x := newS3Target(t)
	ctx := context.Background()
	st := x.open(t)
	const part = s3store.DefaultPartSize
	data := make([]byte, 2*part+12345)
	_, _ = rand.Read(data)

	w, err := st.Create(ctx, "chk-1/big")
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1<<20)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if _, err := st.Stat(ctx, "chk-1/big"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat before Close = %v, want fs.ErrNotExist", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.ReadFile(ctx, st, "chk-1/big", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(data))
	}
	rc, err := checkpoint.OpenRange(ctx, st, "chk-1/big", part-2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, data[part-2:part+2]) {
		t.Fatalf("range across the first part boundary: %x, %v; want %x", b, err, data[part-2:part+2])
	}
	rc.Close()

	w, err = st.Create(ctx, "chk-1/aborted")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil { // two parts uploaded, the rest buffered
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, "chk-1/aborted"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat after Abort = %v, want fs.ErrNotExist", err)
	}
	if x.srv != nil {
		uploads, err := x.srv.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(st.Bucket())})
		if err != nil {
			t.Fatal(err)
		}
		if len(uploads.Uploads) != 0 {
			t.Fatalf("after Abort, %d multipart uploads remain", len(uploads.Uploads))
		}
	}

	// A cancelled context fails Close of a multipart write, and leaves nothing either.
	cctx, cancel := context.WithCancel(ctx)
	w, err = st.Create(cctx, "chk-1/cancelled")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancel = %v, want context.Canceled", err)
	}
	if _, err := st.Stat(ctx, "chk-1/cancelled"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat after a cancelled write = %v, want fs.ErrNotExist", err)
	}
}

// TestS3ForeignObjects checks that List shows only valid names below the storage's prefix.
func TestS3ForeignObjects(t *testing.T) {
	x := newS3Target(t)
	if x.srv == nil {
		t.Skip("writes outside a prefix: only against the test server")
	}
	ctx := context.Background()
	bucket := x.srv.Bucket(t)
	for _, key := range []string{"other/x", "checkpoints-old/y", "checkpoints/chk-1/", "checkpoints/.tmp", "checkpoints/chk-1/a"} {
		body := key
		if strings.HasSuffix(key, "/") {
			body = "" // a directory marker
		}
		if _, err := x.srv.Client().PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
		}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := schemes.Open(ctx, "s3://"+bucket+"/checkpoints/")
	if err != nil {
		t.Fatal(err)
	}
	files, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "chk-1/a" || files[0].Size != int64(len("checkpoints/chk-1/a")) {
		t.Fatalf("List = %+v, want only chk-1/a", files)
	}
	if got := st.(*s3store.Storage).String(); !strings.HasPrefix(got, "s3://"+bucket+"/checkpoints?endpoint=") {
		t.Errorf("String() = %q", got)
	}
}

// TestS3URLParameters opens a storage whose endpoint and region come from the URL, with no
// AWS_ENDPOINT_URL set; and one whose bucket does not exist.
func TestS3URLParameters(t *testing.T) {
	x := newS3Target(t)
	if x.srv == nil {
		t.Skip("needs the test server's endpoint")
	}
	ctx := context.Background()
	bucket := x.srv.Bucket(t)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "")
	q := url.Values{"endpoint": {x.srv.Endpoint}, "region": {x.srv.Region}, "path_style": {"true"}}
	st, err := schemes.Open(ctx, "s3://"+bucket+"/p?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteFile(ctx, st, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.srv.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/f")}); err != nil {
		t.Fatalf("the file is not the object p/f: %v", err)
	}

	// The service-specific variable the SDK reads natively, with no endpoint in the URL.
	t.Setenv("AWS_ENDPOINT_URL_S3", x.srv.Endpoint)
	st, err = schemes.Open(ctx, "s3://"+bucket+"/p")
	if err != nil {
		t.Fatalf("with AWS_ENDPOINT_URL_S3: %v", err)
	}
	if got, err := checkpoint.ReadFile(ctx, st, "f", 0); err != nil || string(got) != "x" {
		t.Fatalf("with AWS_ENDPOINT_URL_S3, read %q, %v", got, err)
	}

	_, err = schemes.Open(ctx, "s3://no-such-bucket-"+randomHex(4)+"/p?"+q.Encode())
	if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") || !strings.Contains(err.Error(), "s3://no-such-bucket-") {
		t.Fatalf("Open of a missing bucket = %v, want NoSuchBucket naming the bucket", err)
	}
}

func TestOpenS3URLErrors(t *testing.T) {
	s3test.Isolate(t)
	ctx := context.Background()
	for _, tt := range []struct{ url, want string }{
		{"s3:///prefix", "names no bucket"},
		{"s3://key:secret@bucket/p", "carries credentials"},
		{"s3://bucket/p?color=red", `unknown parameter "color"`},
		{"s3://bucket/p?path_style=maybe", `path_style="maybe" is not a boolean`},
		{"s3://bucket/p?endpoint=127.0.0.1:9000", "is not an http:// or https:// URL"},
		{"s3://bucket/a/../b", "invalid file name"},
	} {
		_, err := schemes.Open(ctx, tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tt.url, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the secret: %v", tt.url, err)
		}
	}
}

// TestS3Unreachable checks that an endpoint nobody listens on fails Open promptly, with a
// message naming the bucket and the endpoint, after the bounded retries.
func TestS3Unreachable(t *testing.T) {
	s3test.Isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	_, err = schemes.Open(ctx, "s3://ckpt/jobs/a?endpoint="+url.QueryEscape(endpoint))
	took := time.Since(start)
	if err == nil {
		t.Fatal("Open of an unreachable endpoint succeeded")
	}
	for _, want := range []string{"s3://ckpt/jobs/a/", endpoint, "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if ctx.Err() != nil {
		t.Errorf("Open took %v: it ran into the test's deadline instead of giving up", took)
	}
	t.Logf("gave up after %v: %v", took, err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// schemes opens s3:// URLs in the tests, as programs that import this package do.
var schemes = checkpoint.Schemes{"s3": s3store.Scheme()}

// TestS3CheckLocation checks s3:// savepoint targets by their form, without contacting S3.
func TestS3CheckLocation(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		url  string
		want string // "" usable
	}{
		{url: "s3://bucket/jobs/a?region=eu-west-1"}, // the bucket is Open's to check
		{url: "s3:///x", want: "names no bucket"},
		{url: "s3://bucket/p?color=red", want: `unknown parameter "color"`},
		{url: "s3://bucket/p?endpoint=127.0.0.1:9000", want: "not an http:// or https:// URL"},
		{url: "s3://bucket/a/../b", want: "invalid file name"},
	} {
		err := schemes.CheckLocation(ctx, tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckLocation(%q) = %v, want nil", tt.url, err)
		case tt.want != "" && (!errors.Is(err, checkpoint.ErrUnusableLocation) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckLocation(%q) = %v, want ErrUnusableLocation containing %q", tt.url, err, tt.want)
		}
	}
}
