package datagen_test

import (
	"strconv"
	"testing"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/connectortest"
	"github.com/runnel-io/runnel/connector/datagen"
)

// TestConformance runs the connector conformance suite on the generator and slice sources.
func TestConformance(t *testing.T) {
	const n = 300
	want := make([]string, n)
	vals := make([]int, n)
	for i := range n {
		want[i] = strconv.Itoa(i)
		vals[i] = i
	}
	key := func(v int) string { return strconv.Itoa(v) }
	t.Run("Generator", func(t *testing.T) {
		connectortest.Source(t, connectortest.SourceHarness[int]{
			Setup: func(t *testing.T) connectortest.SourceFixture[int] {
				return connectortest.SourceFixture[int]{Want: want, New: func() connector.Source[int] {
					src, err := datagen.New(func(i int64) int { return int(i) }, datagen.Config{Count: n, BatchSize: 7})
					if err != nil {
						t.Fatal(err)
					}
					return src
				}}
			},
			Key: key,
		})
	})
	t.Run("Slice", func(t *testing.T) {
		connectortest.Source(t, connectortest.SourceHarness[int]{
			Setup: func(t *testing.T) connectortest.SourceFixture[int] {
				return connectortest.SourceFixture[int]{Want: want, New: func() connector.Source[int] { return datagen.Slice(vals) }}
			},
			Key: key,
		})
	})
}
