package snapshot_test

import (
	"testing"

	"github.com/runnel-io/runnel/checkpoint"
)

func newLocal(t *testing.T) *checkpoint.Local {
	t.Helper()
	l, err := checkpoint.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}
