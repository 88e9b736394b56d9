package operator

import (
	"reflect"
	"testing"
)

// TestCopiedByAssignment checks which pane contents a snapshot copies rather than encodes at
// once: only types that assignment copies whole.
func TestCopiedByAssignment(t *testing.T) {
	type flat struct {
		A int64
		B [3]float64
		S string
	}
	type nested struct {
		F flat
		P *int
	}
	for _, tc := range []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[int64](), true},
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[flat](), true},
		{reflect.TypeFor[[2]flat](), true},
		{reflect.TypeFor[nested](), false},
		{reflect.TypeFor[*flat](), false},
		{reflect.TypeFor[[]int](), false},
		{reflect.TypeFor[map[string]int](), false},
		{reflect.TypeFor[any](), false},
		{reflect.TypeFor[[1][]int](), false},
		{reflect.TypeFor[func()](), false},
	} {
		if got := copiedByAssignment(tc.t); got != tc.want {
			t.Errorf("copiedByAssignment(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
}
