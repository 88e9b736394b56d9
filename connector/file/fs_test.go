package file_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/connector/s3"
	"github.com/runnel-io/runnel/filesystem"
	"github.com/runnel-io/runnel/internal/testing/s3test"
)

// fsEnv is one of the file systems every file-source and file-sink test runs against: the
// local file system, and S3 through connector/s3's FS on a versitygw. Its put, list and the
// like work behind the back of the code under test.
type fsEnv struct {
	name string
	fs   filesystem.FS
	srv  *s3test.Server // nil for the local file system
}

// eachFS runs test once per file system, as the subtests "local" and "s3". The S3 one starts a
// versitygw for the test; it is skipped in -short mode.
func eachFS(t *testing.T, test func(t *testing.T, e *fsEnv)) {
	t.Run("local", func(t *testing.T) { test(t, &fsEnv{name: "local", fs: filesystem.Local{}}) })
	t.Run("s3", func(t *testing.T) { test(t, newS3Env(t)) })
}

func newS3Env(t *testing.T) *fsEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("S3 tests start a server (and may build it first); skipped in -short mode")
	}
	srv := s3test.Start(t)
	fsys, err := s3.NewFS(t.Context(), s3.Config{Connection: s3.Connection{Endpoint: srv.Endpoint, Region: srv.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	return &fsEnv{name: "s3", fs: fsys, srv: srv}
}

// dir returns a fresh, empty directory: a temporary directory, or a prefix of a new bucket.
func (e *fsEnv) dir(t *testing.T) string {
	t.Helper()
	if e.srv == nil {
		return t.TempDir()
	}
	return "s3://" + e.srv.Bucket(t) + "/data"
}

// path returns the name of rel (slash-separated) below dir.
func (e *fsEnv) path(dir, rel string) string { return filesystem.Join(dir, rel) }

func (e *fsEnv) bucketKey(t testing.TB, name string) (string, string) {
	t.Helper()
	rest, ok := strings.CutPrefix(name, "s3://")
	bucket, key, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		t.Fatalf("%q is not an s3:// name", name)
	}
	return bucket, key
}

// put writes data as the file name, making its directories.
func (e *fsEnv) put(t testing.TB, name string, data []byte) {
	t.Helper()
	if e.srv == nil {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	bucket, key := e.bucketKey(t, name)
	if _, err := e.srv.Client().PutObject(t.Context(), &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	}); err != nil {
		t.Fatal(err)
	}
}

// read returns the content of the file name.
func (e *fsEnv) read(t testing.TB, name string) []byte {
	t.Helper()
	if e.srv == nil {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bucket, key := e.bucketKey(t, name)
	res, err := e.srv.Client().GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// remove deletes the file name.
func (e *fsEnv) remove(t testing.TB, name string) {
	t.Helper()
	if err := e.fs.Delete(t.Context(), name); err != nil {
		t.Fatal(err)
	}
}

// rename moves a file (on S3: copies it and deletes the original).
func (e *fsEnv) rename(t testing.TB, from, to string) {
	t.Helper()
	if e.srv == nil {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		return
	}
	e.put(t, to, e.read(t, from))
	e.remove(t, from)
}

// listing is what a reader of a directory sees, plus the hidden files it skips.
type listing struct {
	rows   map[string]int // line → count, over visible files (decompressed)
	files  []string       // visible files, relative to the root
	sizes  map[string]int64
	hidden []string // hidden files (locally) or multipart uploads (S3), relative to the root
}

// list lists root: its files, their lines, and what is hidden.
func (e *fsEnv) list(t testing.TB, root string) listing {
	t.Helper()
	l := listing{rows: map[string]int{}, sizes: map[string]int64{}}
	if e.srv == nil {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if strings.HasPrefix(d.Name(), ".") {
				l.hidden = append(l.hidden, filepath.ToSlash(rel))
				return nil
			}
			l.files = append(l.files, filepath.ToSlash(rel))
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	} else {
		bucket, key := e.bucketKey(t, root+"/")
		ctx := t.Context()
		p := awss3.NewListObjectsV2Paginator(e.srv.Client(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(key)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				if k := aws.ToString(o.Key); !strings.HasSuffix(k, "/") {
					l.files = append(l.files, strings.TrimPrefix(k, key))
				}
			}
		}
		up, err := e.srv.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range up.Uploads {
			l.hidden = append(l.hidden, strings.TrimPrefix(aws.ToString(u.Key), key))
		}
	}
	slices.Sort(l.files)
	slices.Sort(l.hidden)
	for _, f := range l.files {
		b := e.read(t, e.path(root, f))
		l.sizes[f] = int64(len(b))
		var r io.Reader = bytes.NewReader(b)
		if strings.HasSuffix(f, ".gz") {
			gz, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			r = gz
		}
		content, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(string(content), "\n"), "\n") {
			if line != "" {
				l.rows[line]++
			}
		}
	}
	return l
}
