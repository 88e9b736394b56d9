package s3_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/file"
	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/filesystem"
	"github.com/runnel-io/runnel/filesystem/filesystemtest"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

// newFS starts a versitygw for the test (skipped in -short mode) and returns an FS reaching it
// with a small part size.
func newFS(t *testing.T) (*s3.FS, *s3test.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("S3 tests start a server (and may build it first); skipped in -short mode")
	}
	srv := s3test.Start(t)
	fsys, err := s3.NewFS(t.Context(), s3.Config{Connection: s3.Connection{Endpoint: srv.Endpoint, Region: srv.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}, PartSize: s3.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	return fsys, srv
}

func TestFS(t *testing.T) {
	fsys, srv := newFS(t)
	filesystemtest.Run(t, filesystemtest.Harness{
		New: func(t *testing.T) (filesystem.FS, string) {
			return fsys, "s3://" + srv.Bucket(t) + "/dir"
		},
		Large: s3.MinPartSize,
	})
}

func TestConfigAndResolve(t *testing.T) {
	for name, c := range map[string]s3.Config{
		"small part": {PartSize: 1 << 20},
		"endpoint":   {Connection: s3.Connection{Endpoint: "localhost:9000"}},
		"half creds": {Connection: s3.Connection{AccessKeyID: "a"}},
	} {
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "s3: ") {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if _, err := s3.NewFS(t.Context(), c); err == nil {
			t.Errorf("%s: NewFS succeeded", name)
		}
	}
	fsys, err := s3.NewFS(t.Context(), s3.Config{Connection: s3.Connection{Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"s3://b":          "s3://b",
		"s3://b/":         "s3://b",
		"s3://b/p/":       "s3://b/p",
		"s3://b//p/q//":   "s3://b/p/q",
		"s3://b/p/*.json": "s3://b/p/*.json",
	} {
		if got, err := fsys.Resolve(in); err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "file:///tmp", "/tmp", "s3:///prefix", "s3://b/p?endpoint=x", "s3://user:pw@b/p", "s3://b/p#f"} {
		if got, err := fsys.Resolve(bad); err == nil {
			t.Errorf("Resolve(%q) = %q, want an error", bad, got)
		}
	}
}

// TestMultipart writes 16 MiB of rows through the file sink with 5 MiB parts, rolling at
// 12 MiB: one object of 3 parts and one of 1, committed twice (the second time both uploads
// are unknown, and the objects are recognised by their size and multipart ETag).
func TestMultipart(t *testing.T) {
	fsys, srv := newFS(t)
	dir := "s3://" + srv.Bucket(t) + "/big"
	sink, err := file.NewSink(file.SinkConfig[string]{FS: fsys, Dir: dir, RollSize: 12 << 20,
		Encode: func(dst []byte, v string) []byte { return append(append(dst, v...), '\n') }})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.NewWriter(t.Context(), connector.SinkContext{})
	if err != nil {
		t.Fatal(err)
	}
	row := strings.Repeat("r", 1023)
	for i := range 16 << 10 {
		if err := w.Write(t.Context(), fmt.Sprintf("%06d%s", i, row[6:]), 0); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := w.PreCommit(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || !strings.Contains(string(cs[0]), `"n":3`) || strings.Contains(string(cs[0]), `"n":4`) {
		t.Fatalf("%d committables (%.300s); want 2, the first of 3 parts", len(cs), cs[0])
	}
	c, err := sink.NewCommitter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Commit(t.Context(), cs); err != nil {
			t.Fatal(err)
		}
	}
	files, err := fsys.List(t.Context(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	if len(files) != 2 || total != 16<<20 {
		t.Fatalf("listed %+v, want 2 objects of 16 MiB in all", files)
	}
}

// TestCommitMismatch: a pending file whose upload the store does not know while another object
// has its name is a mismatch, not a success; a committable of the earlier S3 sink decodes as a
// Pending.
func TestCommitMismatch(t *testing.T) {
	fsys, srv := newFS(t)
	ctx := t.Context()
	name := "s3://" + srv.Bucket(t) + "/x/part-0-0-abcdefgh0123-0.jsonl"
	p := filesystemtest.Write(t, fsys, name, []byte("hello\n"))
	bucket, key, _ := strings.Cut(strings.TrimPrefix(name, "s3://"), "/")
	if _, err := srv.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader("somebody else's\n")}); err != nil {
		t.Fatal(err)
	}
	// An upload ID the store never issued: as after the upload expired.
	var rec map[string]any
	if err := json.Unmarshal(p.Data, &rec); err != nil {
		t.Fatal(err)
	}
	rec["uploadId"] = "unknown-" + p.ID
	data, _ := json.Marshal(rec)
	q, err := fsys.DecodePending(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Commit(ctx, q); !errors.Is(err, filesystem.ErrMismatch) || !strings.Contains(err.Error(), name) {
		t.Fatalf("Commit of an unknown upload whose key holds another object: %v, want ErrMismatch naming %s", err, name)
	}
	if err := fsys.Abort(ctx, p); err != nil {
		t.Fatal(err)
	}

	old := `{"bucket":"b","key":"p/part-0-0-abcdefgh0123-4.jsonl","uploadId":"u1","parts":[{"n":1,"etag":"\"e\"","crc32":"AAAAAA==","size":10}],"size":10}`
	op, err := fsys.DecodePending([]byte(old))
	if err != nil || op.Name != "s3://b/p/part-0-0-abcdefgh0123-4.jsonl" || op.ID != "u1" || op.Size != 10 {
		t.Fatalf("DecodePending of an earlier committable = %+v, %v", op, err)
	}
}

// TestUnreachableEndpoint: a sink and a source on an endpoint nobody listens on fail with an
// error naming it, within a bounded time.
func TestUnreachableEndpoint(t *testing.T) {
	fsys, err := s3.NewFS(t.Context(), s3.Config{Connection: s3.Connection{Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		AccessKeyID: "a", SecretAccessKey: "b", MaxAttempts: 2, DialTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sink, err := file.NewSink(file.SinkConfig[string]{FS: fsys, Dir: "s3://bucket/p",
		Encode: func(dst []byte, v string) []byte { return append(dst, v...) }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sink.NewWriter(t.Context(), connector.SinkContext{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "s3://bucket/p") {
		t.Fatalf("NewWriter on an unreachable endpoint: %v", err)
	}
	src, err := file.NewSource(file.SourceConfig[string]{FS: fsys, Path: "s3://bucket/p",
		Format: file.Lines(func(b []byte) (string, error) { return string(b), nil })})
	if err != nil {
		t.Fatal(err)
	}
	en, err := src.NewEnumerator(enumCtx{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("listing on an unreachable endpoint: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("failing took %v", d)
	}
}

// enumCtx is a connector.EnumeratorContext of one reader that records nothing.
type enumCtx struct{}

func (enumCtx) Parallelism() int               { return 1 }
func (enumCtx) Assign(int, ...connector.Split) {}
func (enumCtx) NoMoreSplits(int)               {}
func (enumCtx) Logger() *slog.Logger           { return slog.New(slog.DiscardHandler) }
