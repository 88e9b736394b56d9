package stream

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	rt "github.com/runnel-io/runnel/internal/runtime"
	"github.com/runnel-io/runnel/internal/statebackend/pebble"
	"github.com/runnel-io/runnel/state"
)

// PebbleState returns a Config.StateBackend that keeps keyed state on disk in Pebble, for state
// larger than memory. Each operator subtask gets its own database under dir, named after the
// operator and subtask; dir is scratch space owned by the job (a database left there by an
// earlier run is removed first, and each is removed when its task ends), so concurrent jobs
// need different directories. cacheBytes bounds the block cache per subtask (0: the default,
// 8 MiB). Keyed state made through the state handles (KeyedProcess, Reduce, Aggregate,
// KeyedCoProcess, broadcast and join operators) lives there; the window operator keeps its
// panes in memory for now.
func PebbleState(dir string, cacheBytes int64) func(c *rt.Context) (state.Backend, error) {
	return func(c *rt.Context) (state.Backend, error) {
		name := strings.Map(func(r rune) rune {
			if r == '/' || r == '\\' || r == ' ' || r == ':' {
				return '_'
			}
			return r
		}, c.Name)
		db := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", name, c.NodeID, c.Subtask))
		if err := os.RemoveAll(db); err != nil {
			return nil, fmt.Errorf("clearing %s: %w", db, err)
		}
		b, err := pebble.Open(pebble.Options{Dir: db, Range: c.KeyGroups, CacheSize: cacheBytes, Logger: c.Logger})
		if err != nil {
			return nil, err
		}
		return &removeOnClose{Backend: b, dir: db}, nil
	}
}

// removeOnClose deletes a scratch database when its backend closes.
type removeOnClose struct {
	*pebble.Backend
	dir string
}

func (r *removeOnClose) Close() error {
	err := r.Backend.Close()
	if rerr := os.RemoveAll(r.dir); err == nil {
		err = rerr
	}
	return err
}
