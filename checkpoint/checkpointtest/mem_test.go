package checkpointtest_test

import (
	"testing"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
)

func TestMem(t *testing.T) {
	checkpointtest.StorageSuite(t, func(t *testing.T) checkpoint.Storage { return checkpointtest.NewMem() })
}

func TestMemLease(t *testing.T) {
	checkpointtest.LeaseSuite(t, func(t *testing.T) func() checkpoint.Storage {
		m := checkpointtest.NewMem()
		return func() checkpoint.Storage { return m }
	})
}
