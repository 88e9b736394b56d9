package service

import (
	"strings"
	"testing"
	"time"
)

func TestAutoscaleDecide(t *testing.T) {
	a := Autoscale{Window: time.Minute}.withDefaults()
	t0 := time.Unix(1_700_000_000, 0)
	series := func(n int, every time.Duration, f func(i int) point) []point {
		var out []point
		for i := range n {
			p := f(i)
			p.at = t0.Add(time.Duration(i) * every)
			out = append(out, p)
		}
		return out
	}
	end := func(h []point) time.Time { return h[len(h)-1].at }
	for _, tc := range []struct {
		name    string
		history []point
		p, max  int
		want    int
		why     string
	}{
		{"too short a history", series(5, 5*time.Second, func(int) point { return point{backpressured: 1} }), 2, 8, 2, ""},
		{"backpressured for the window", series(14, 5*time.Second, func(int) point { return point{backpressured: 0.8} }), 2, 8, 4, "backpressured"},
		{"backpressured but once relieved", series(14, 5*time.Second, func(i int) point { return point{backpressured: map[bool]float64{true: 0.1, false: 0.8}[i == 10]} }), 2, 8, 2, ""},
		{"at the maximum", series(14, 5*time.Second, func(int) point { return point{backpressured: 0.9} }), 8, 8, 8, ""},
		{"a growing lag", series(14, 5*time.Second, func(i int) point { return point{lag: int64(100 + 10*i)} }), 1, 8, 2, "lag grew"},
		{"a lag that shrinks back", series(14, 5*time.Second, func(i int) point { return point{lag: int64(100 + 10*i - 30*(i/7))} }), 1, 8, 1, ""},
		{"idle for the down window", series(80, 5*time.Second, func(int) point { return point{idle: 0.97} }), 4, 8, 2, "idle"},
		{"idle but not long enough", series(40, 5*time.Second, func(int) point { return point{idle: 0.97} }), 4, 8, 4, ""},
		{"never below one", series(80, 5*time.Second, func(int) point { return point{idle: 0.99} }), 1, 8, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := a.decide(tc.history, tc.p, tc.max, end(tc.history))
			if got != tc.want || !strings.Contains(why, tc.why) || (tc.why == "" && why != "") {
				t.Errorf("decide = %d %q, want %d %q", got, why, tc.want, tc.why)
			}
		})
	}
}
