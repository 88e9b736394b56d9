package operator

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTimerHeapOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var h timerHeap[int]
		var want []int64
		for i := range r.IntN(200) {
			at := int64(r.IntN(50))
			h.push(Timer[int]{timerKey[int]{i, at}, 0})
			want = append(want, at)
			if r.IntN(4) == 0 && len(h) > 0 {
				got := h.pop().at
				slices.Sort(want)
				if got != want[0] {
					t.Fatalf("round %d: popped %d, want %d", round, got, want[0])
				}
				want = want[1:]
			}
		}
		slices.Sort(want)
		for _, w := range want {
			if got := h.pop().at; got != w {
				t.Fatalf("round %d: popped %d, want %d", round, got, w)
			}
		}
		if len(h) != 0 {
			t.Fatalf("round %d: %d left", round, len(h))
		}
	}
}
