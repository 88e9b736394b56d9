package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// heavy are the dependencies a program that imports only package stream must not link: the
// implementations (state backends, checkpoint storages, connectors, codecs) are packages of
// their own that a program imports when it wants them.
var heavy = []string{
	"github.com/aws/aws-sdk-go-v2",
	"github.com/aws/smithy-go",
	"github.com/cockroachdb/pebble",
	"github.com/twmb/franz-go",
	"github.com/parquet-go/parquet-go",
	"github.com/hamba/avro",
	"github.com/getsentry/sentry-go",
	"github.com/gogo/protobuf",
}

// TestStreamLinksNoImplementations checks that package stream, the API, depends on none of the
// heavy dependencies (the database/sql shape: the API apart from its drivers).
func TestStreamLinksNoImplementations(t *testing.T) {
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-deps", "./stream")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./stream: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, h := range heavy {
			if hasPathPrefix(dep, h) {
				t.Errorf("package stream links %s (through %s): move the import into an implementation package the program imports itself", h, dep)
			}
		}
	}
}

// maxMinimalBinary bounds the binary of the smallest Runnel program (testdata/minimal:
// FromSlice → Print). docs/PERFORMANCE.md records its size.
const maxMinimalBinary = 10 << 20

// TestMinimalProgram builds testdata/minimal and checks its size.
func TestMinimalProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	root := moduleRoot(t)
	bin := filepath.Join(t.TempDir(), "minimal")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/lint/testdata/minimal")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the minimal program's binary: %.1f MB", float64(fi.Size())/(1<<20))
	if fi.Size() > maxMinimalBinary {
		t.Errorf("the minimal program's binary is %d bytes, above %d: see what it links with `go version -m`", fi.Size(), maxMinimalBinary)
	}
}
