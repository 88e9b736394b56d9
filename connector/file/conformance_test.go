package file_test

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/connectortest"
	"github.com/runnel-io/runnel/connector/file"
)

type conformanceRow struct {
	N int `json:"n"`
}

// TestConformance runs the connector conformance suite on the file source (plain and gzip
// JSON lines, bounded and monitoring) and on the exactly-once file sink.
func TestConformance(t *testing.T) {
	for _, monitor := range []bool{false, true} {
		name := map[bool]string{false: "Source/Bounded", true: "Source/Monitor"}[monitor]
		t.Run(name, func(t *testing.T) {
			connectortest.Source(t, connectortest.SourceHarness[conformanceRow]{
				Setup: func(t *testing.T) connectortest.SourceFixture[conformanceRow] {
					dir := t.TempDir()
					var want []string
					for f := range 5 {
						var b strings.Builder
						for i := range 60 {
							n := f*60 + i
							fmt.Fprintf(&b, "{\"n\":%d}\n", n)
							want = append(want, strconv.Itoa(n))
						}
						name := filepath.Join(dir, fmt.Sprintf("in-%d.jsonl", f))
						data := []byte(b.String())
						if f == 4 {
							name += ".gz"
							data = conformanceGzip(t, data)
						}
						if err := os.WriteFile(name, data, 0o644); err != nil {
							t.Fatal(err)
						}
					}
					return connectortest.SourceFixture[conformanceRow]{Want: want, New: func() connector.Source[conformanceRow] {
						opts := []file.SourceOption{file.ReadBatch(7)}
						if monitor {
							opts = append(opts, file.Monitor(time.Hour)) // the suite calls Discover itself
						}
						src, err := file.NewSource(dir, file.JSONLines[conformanceRow](), opts...)
						if err != nil {
							t.Fatal(err)
						}
						return src
					}}
				},
				Key: func(r conformanceRow) string { return strconv.Itoa(r.N) },
			})
		})
	}
	t.Run("Sink", func(t *testing.T) {
		connectortest.Sink(t, connectortest.SinkHarness[int]{
			Setup: func(t *testing.T) connectortest.SinkFixture[int] {
				dir := t.TempDir()
				return connectortest.SinkFixture[int]{
					New: func() connector.Sink[int] {
						s, err := file.NewSink(dir, func(dst []byte, v int) []byte { return strconv.AppendInt(dst, int64(v), 10) })
						if err != nil {
							t.Fatal(err)
						}
						return s
					},
					Visible: func(t *testing.T) []string { return conformanceVisible(t, dir) },
				}
			},
			Record:      func(i int) int { return i },
			Key:         strconv.Itoa,
			ExactlyOnce: true,
		})
	})
}

func conformanceGzip(t *testing.T, b []byte) []byte {
	var out strings.Builder
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(out.String())
}

// conformanceVisible returns the lines of the files below dir that readers see (names not
// starting with '.' or '_').
func conformanceVisible(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				return err
			}
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				out = append(out, l)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
