package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runnel-io/runnel/internal/testing/kinesistest"
)

// survivePreload is loaded into kinesalite's Node.js process (node --require). kinesalite
// 3.3.3 rethrows every error of an incoming request (index.js: req.on('error', function(err)
// { throw err })), and Node.js since version 15 emits one, ECONNRESET "aborted", whenever a
// client's connection closes before its request was answered. A client killed by SIGKILL in
// the middle of a call therefore brought the whole server down: the next run of the job then
// found nobody listening. The preload swallows exactly that error and lets every other
// uncaught exception end the process as before.
const survivePreload = `process.on('uncaughtException', function (err) {
  if (err && err.code === 'ECONNRESET') {
    return
  }
  console.error(err)
  process.exit(1)
})
`

// startKinesalite starts a kinesalite (kinesistest.Start) that survives its clients being
// killed. It sets NODE_OPTIONS for the rest of the test, so it cannot be used in parallel tests.
func startKinesalite(t *testing.T) *kinesistest.Server {
	t.Helper()
	preload := filepath.Join(t.TempDir(), "survive-aborted-requests.js")
	if err := os.WriteFile(preload, []byte(survivePreload), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NODE_OPTIONS", "--require="+preload)
	return kinesistest.Start(t)
}
