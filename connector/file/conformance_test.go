package file_test

import (
	"compress/gzip"
	"fmt"
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
// JSON lines, bounded and monitoring) and on the exactly-once file sink, on each file system.
func TestConformance(t *testing.T) {
	eachFS(t, func(t *testing.T, e *fsEnv) {
		for _, monitor := range []bool{false, true} {
			name := map[bool]string{false: "Source/Bounded", true: "Source/Monitor"}[monitor]
			t.Run(name, func(t *testing.T) {
				connectortest.Source(t, connectortest.SourceHarness[conformanceRow]{
					Setup: func(t *testing.T) connectortest.SourceFixture[conformanceRow] {
						dir := e.dir(t)
						var want []string
						for f := range 5 {
							var b strings.Builder
							for i := range 60 {
								n := f*60 + i
								fmt.Fprintf(&b, "{\"n\":%d}\n", n)
								want = append(want, strconv.Itoa(n))
							}
							name := e.path(dir, fmt.Sprintf("in-%d.jsonl", f))
							data := []byte(b.String())
							if f == 4 {
								name += ".gz"
								data = conformanceGzip(t, data)
							}
							e.put(t, name, data)
						}
						return connectortest.SourceFixture[conformanceRow]{Want: want, New: func() connector.Source[conformanceRow] {
							cfg := file.SourceConfig[conformanceRow]{FS: e.fs, Path: dir, Format: file.JSONLines[conformanceRow](), ReadBatch: 7}
							if monitor {
								cfg.Monitor = time.Hour // the suite calls Discover itself
							}
							src, err := file.NewSource(cfg)
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
					dir := e.dir(t)
					return connectortest.SinkFixture[int]{
						New: func() connector.Sink[int] {
							s, err := file.NewSink(file.SinkConfig[int]{FS: e.fs, Dir: dir, Encode: encodeInt})
							if err != nil {
								t.Fatal(err)
							}
							return s
						},
						Visible: func(t *testing.T) []string {
							var out []string
							for row, n := range e.list(t, dir).rows {
								for range n {
									out = append(out, row)
								}
							}
							return out
						},
					}
				},
				Record:      func(i int) int { return i },
				Key:         strconv.Itoa,
				ExactlyOnce: true,
			})
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
