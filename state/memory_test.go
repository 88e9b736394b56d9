package state_test

import (
	"testing"

	"github.com/runnel-io/runnel/keygroup"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/statetest"
)

func TestMemoryConformance(t *testing.T) {
	statetest.Run(t, func(*testing.T, keygroup.Range) state.Backend { return state.NewMemory() })
}
