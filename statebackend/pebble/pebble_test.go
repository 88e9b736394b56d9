package pebble_test

import (
	"testing"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/statetest"
	"github.com/runnel-io/runnel/statebackend/pebble"
)

func open(t testing.TB, r keygroup.Range) *pebble.Backend {
	t.Helper()
	b, err := pebble.Open(pebble.Options{Dir: t.TempDir(), Range: r, CacheSize: 1 << 20, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T, r keygroup.Range) state.Backend { return open(t, r) })
}
