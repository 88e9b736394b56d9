package keygroup

import "testing"

func TestRangesPartitionKeyGroups(t *testing.T) {
	for _, max := range []int{1, 7, 128, 1000} {
		for p := 1; p <= max && p <= 64; p++ {
			next := 0
			for i := range p {
				r := RangeOf(i, max, p)
				if r.Start != next {
					t.Fatalf("max=%d p=%d subtask %d: range %v does not start at %d", max, p, i, r, next)
				}
				for kg := r.Start; kg < r.End; kg++ {
					if got := Subtask(kg, max, p); got != i {
						t.Fatalf("max=%d p=%d: key group %d in range of %d but Subtask says %d", max, p, kg, i, got)
					}
				}
				next = r.End
			}
			if next != max {
				t.Fatalf("max=%d p=%d: ranges end at %d", max, p, next)
			}
		}
	}
}

type point struct {
	X, Y int32
	Name string
}

func TestHashersAreStableAndSpread(t *testing.T) {
	hs := HasherFor[string]()
	if hs("page-1") != String("page-1") || hs("a") == hs("b") {
		t.Fatal("string hasher")
	}
	// Fixed values: a change here breaks savepoint compatibility.
	if got := Of(HasherFor[int64]()(42), 128); got != Of(42, 128) {
		t.Fatalf("int64 hasher: %d", got)
	}
	if got, want := String("runnel"), uint64(0xc5ff14745a134605); got != want {
		t.Fatalf("String(runnel) = %#x, want %#x", got, want)
	}
	if got := Of(hs("page-7"), 128); got != 43 {
		t.Fatalf("key group of page-7 = %d, want 43", got)
	}
	hp := HasherFor[point]()
	a, b, c := point{1, 2, "a"}, point{1, 2, "a"}, point{2, 1, "a"}
	if hp(a) != hp(b) || hp(a) == hp(c) {
		t.Fatal("struct hasher: equal keys must hash equal, swapped fields differently")
	}
	counts := make([]int, 128)
	hi := HasherFor[int]()
	for i := range 128 * 100 {
		counts[Of(hi(i), 128)]++
	}
	for kg, c := range counts {
		if c < 50 || c > 150 {
			t.Fatalf("key group %d got %d of 12800 sequential keys", kg, c)
		}
	}
}

func TestHasherRejectsPointers(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for pointer key")
		}
	}()
	HasherFor[*int]()
}

func BenchmarkStringKeyGroup(b *testing.B) {
	h := HasherFor[string]()
	for i := 0; b.Loop(); i++ {
		_ = Of(h("https://example.com/page/42"), 128)
	}
}
