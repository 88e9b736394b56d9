package nexmark

import (
	"math"
	"math/bits"
	"time"
)

// histogram counts durations in microseconds in log-linear buckets: exact below 64 µs, then 32
// buckets per power of two, so a quantile is within about 3% of the true value. It is not safe
// for concurrent use; the zero value is empty.
type histogram struct {
	counts []int64
	total  int64
	max    time.Duration
}

const (
	histLinear = 64 // values below are their own bucket
	histSub    = 32 // buckets per power of two above
)

func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	shift := bits.Len64(us) - 6 // keep the 6 leading bits: 32..63
	return histLinear + (shift-1)*histSub + int(us>>shift) - histSub
}

// bucketMid returns the middle of bucket i in microseconds.
func bucketMid(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	shift := (i-histLinear)/histSub + 1
	m := uint64((i-histLinear)%histSub + histSub)
	return (float64(m<<shift) + float64((m+1)<<shift)) / 2
}

// record adds d; negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	b := bucketOf(uint64(d / time.Microsecond))
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]int64, b+1-len(h.counts))...)
	}
	h.counts[b]++
	h.total++
	h.max = max(h.max, d)
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]int64, len(o.counts)-len(h.counts))...)
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1), or 0 when h is empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := min(max(int64(math.Ceil(q*float64(h.total))), 1), h.total) // nearest rank
	var seen int64
	for i, n := range h.counts {
		if seen += n; seen >= rank {
			return min(time.Duration(bucketMid(i)*float64(time.Microsecond)), h.max)
		}
	}
	return h.max
}
