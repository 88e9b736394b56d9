package iot_test

import (
	"cmp"
	"context"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/runnel-io/runnel/examples/iot"
	"github.com/runnel-io/runnel/stream"
)

// testOptions: 100 sensors, 4 of which go silent after 3 minutes, and a minute more of readings
// from the others, out of order by up to 400ms.
var testOptions = iot.Options{
	Sensors:     100,
	SpikeEvery:  300,
	SilentEvery: 25,
	SilentAfter: 3 * time.Minute,
	Disorder:    400 * time.Millisecond,
	Events:      100*180 + 96*60,
}

const timeout = 30 * time.Second

// pacing is how fast the readings are produced and how often the source emits watermarks.
type pacing int

const (
	// everyRead emits a watermark after every read of the source.
	everyRead pacing = iota
	// unpaced reads as fast as it can within one watermark interval: a fake clock that never
	// moves lets no periodic watermark out, so the only watermarks are those at end of input.
	unpaced
	// paced produces the readings at a fixed rate on the wall clock, with the default
	// watermark interval: a few periodic watermarks, wherever the clock puts them.
	paced
)

func (pc pacing) String() string { return [...]string{"every read", "unpaced", "paced"}[pc] }

// pacedRate is the rate of a paced run: the test input in about half a second.
const pacedRate = 50_000

func run(t *testing.T, p int) ([]iot.Alert, []iot.SensorMax) {
	t.Helper()
	return runPaced(t, p, everyRead)
}

func runPaced(t *testing.T, p int, pc pacing) ([]iot.Alert, []iot.SensorMax) {
	t.Helper()
	cfg, o := stream.Config{Parallelism: p}, testOptions
	switch pc {
	case everyRead:
		cfg.WatermarkInterval = -1
	case unpaced:
		cfg.Clock = clockwork.NewFakeClock()
	case paced:
		o.Rate = pacedRate
	}
	env := stream.New("iot", cfg)
	readings, err := iot.Source(env, o)
	if err != nil {
		t.Fatal(err)
	}
	alerts := stream.Collect(iot.Detector{Timeout: timeout}.Alerts(readings))
	maxes := stream.Collect(iot.Summary(readings, time.Minute))
	if err := env.Execute(context.Background()); err != nil {
		t.Fatalf("p=%d, %v: %v", p, pc, err)
	}
	a, m := alerts.Values(), maxes.Values()
	slices.SortFunc(a, func(x, y iot.Alert) int {
		return cmp.Or(cmp.Compare(x.Sensor, y.Sensor), cmp.Compare(x.Time, y.Time), cmp.Compare(x.Kind, y.Kind))
	})
	slices.SortFunc(m, func(x, y iot.SensorMax) int {
		return cmp.Or(cmp.Compare(x.Sensor, y.Sensor), cmp.Compare(x.WindowStart, y.WindowStart))
	})
	return a, m
}

// batch is the reference: every reading, grouped by sensor in event-time order.
type batch struct {
	bySensor map[string][]iot.Reading
	spikes   map[iot.Reading]bool // injected, by IsSpike
}

func newBatch() batch {
	b := batch{bySensor: map[string][]iot.Reading{}, spikes: map[iot.Reading]bool{}}
	for n := range testOptions.Events {
		r := iot.Generate(testOptions, n)
		b.bySensor[r.Sensor] = append(b.bySensor[r.Sensor], r)
		if iot.IsSpike(testOptions, n) {
			b.spikes[r] = true
		}
	}
	for _, rs := range b.bySensor {
		slices.SortFunc(rs, func(x, y iot.Reading) int { return cmp.Compare(x.Time, y.Time) })
	}
	return b
}

// flag runs the detection rule independently of the package: Welford's running mean and
// variance over each sensor's non-spike readings; after 30 readings, a reading more than 4
// sample standard deviations from the mean is a spike.
func (b batch) flag() map[iot.Reading]bool {
	flagged := map[iot.Reading]bool{}
	for _, rs := range b.bySensor {
		var n, mean, m2 float64
		for _, r := range rs {
			if n >= 30 {
				std := math.Sqrt(m2 / (n - 1))
				if math.Abs(r.Temp-mean) > 4*std {
					flagged[r] = true
					continue
				}
			}
			n++
			d := r.Temp - mean
			mean += d / n
			m2 += d * (r.Temp - mean)
		}
	}
	return flagged
}

func TestAlerts(t *testing.T) {
	b := newBatch()
	flagged := b.flag()
	if len(b.spikes) < 20 {
		t.Fatalf("only %d spikes injected", len(b.spikes))
	}
	// The detector finds exactly the injected spikes.
	for r := range b.spikes {
		if !flagged[r] {
			t.Errorf("injected spike %+v not flagged by the batch rule", r)
		}
	}
	for r := range flagged {
		if !b.spikes[r] {
			t.Errorf("batch rule flags %+v, which is not an injected spike", r)
		}
	}

	silent := map[string]int64{} // sensor -> expected alert time
	for _, s := range iot.SilentSensors(testOptions) {
		rs := b.bySensor[s]
		last := rs[len(rs)-1]
		if stop := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(testOptions.SilentAfter).UnixMilli(); last.Time >= stop {
			t.Fatalf("silent sensor %s reported at %d, after it should have stopped", s, last.Time)
		}
		silent[s] = last.Time + timeout.Milliseconds()
	}
	if len(silent) != 4 {
		t.Fatalf("silent sensors %v, want 4", silent)
	}

	var first []iot.Alert
	for _, p := range []int{1, 2} {
		alerts, _ := run(t, p)
		gotSpikes, gotSilent := map[iot.Reading]bool{}, map[string]int64{}
		for _, a := range alerts {
			switch a.Kind {
			case iot.Spike:
				gotSpikes[iot.Reading{Sensor: a.Sensor, Time: a.Time, Temp: a.Temp}] = true
			case iot.Silent:
				if _, dup := gotSilent[a.Sensor]; dup {
					t.Errorf("p=%d: second silent alert %+v", p, a)
				}
				gotSilent[a.Sensor] = a.Time
			default:
				t.Errorf("p=%d: alert of unknown kind %+v", p, a)
			}
		}
		if len(gotSpikes) != len(flagged) {
			t.Errorf("p=%d: %d spike alerts, batch flags %d", p, len(gotSpikes), len(flagged))
		}
		for r := range flagged {
			if !gotSpikes[r] {
				t.Errorf("p=%d: no alert for spike %+v", p, r)
			}
		}
		for r := range gotSpikes {
			if !flagged[r] {
				t.Errorf("p=%d: alert for %+v, which the batch rule does not flag", p, r)
			}
		}
		if !maps.Equal(gotSilent, silent) {
			t.Errorf("p=%d: silent alerts %v, want %v", p, gotSilent, silent)
		}
		t.Logf("p=%d: %d spike alerts, %d silent alerts", p, len(gotSpikes), len(gotSilent))
		if first == nil {
			first = alerts
		} else if !slices.Equal(alerts, first) {
			t.Errorf("p=%d alerts differ from p=1:\n%v\n%v", p, alerts, first)
		}
	}
}

// TestOutputIndependentOfPacing runs the job unpaced, paced and with a watermark after every
// read, at parallelism 1, 2 and 4, and wants the same alerts and maxima every time, those of
// TestAlerts and TestSummary. The silent sensors' alerts are due 30 seconds of event time before
// the end of the readings: they must not depend on whether a periodic watermark passed them
// before the input ended (before the source emitted the watermark its data reached at end of
// input, an unpaced run raised none).
func TestOutputIndependentOfPacing(t *testing.T) {
	wantAlerts, wantMaxes := run(t, 1)
	silent := 0
	for _, a := range wantAlerts {
		if a.Kind == iot.Silent {
			silent++
		}
	}
	if silent != len(iot.SilentSensors(testOptions)) {
		t.Fatalf("%d silent alerts with a watermark after every read, want %d", silent, len(iot.SilentSensors(testOptions)))
	}
	for _, p := range []int{1, 2, 4} {
		for _, pc := range []pacing{unpaced, paced} {
			alerts, maxes := runPaced(t, p, pc)
			if !slices.Equal(alerts, wantAlerts) {
				t.Errorf("p=%d, %v: alerts differ from p=1 with a watermark after every read: missing %v, extra %v",
					p, pc, without(wantAlerts, alerts), without(alerts, wantAlerts))
			}
			if !slices.Equal(maxes, wantMaxes) {
				t.Errorf("p=%d, %v: %d window maxima differ from the %d of p=1 with a watermark after every read", p, pc, len(maxes), len(wantMaxes))
			}
		}
	}
}

// without returns the alerts of a that b lacks.
func without(a, b []iot.Alert) []iot.Alert {
	var out []iot.Alert
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestSummary(t *testing.T) {
	b := newBatch()
	type key struct {
		sensor string
		start  int64
	}
	want := map[key]float64{}
	for s, rs := range b.bySensor {
		for _, r := range rs {
			k := key{s, r.Time - r.Time%60_000}
			if m, ok := want[k]; !ok || r.Temp > m {
				want[k] = r.Temp
			}
		}
	}
	for _, p := range []int{1, 2} {
		_, got := run(t, p)
		if len(got) != len(want) {
			t.Errorf("p=%d: %d windows, want %d", p, len(got), len(want))
		}
		for _, m := range got {
			k := key{m.Sensor, m.WindowStart}
			if w, ok := want[k]; !ok || w != m.Max || m.WindowEnd != m.WindowStart+60_000 {
				t.Errorf("p=%d: %+v, want max %v (present %v)", p, m, w, ok)
			}
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	for n := range int64(1000) {
		if a, b := iot.Generate(testOptions, n), iot.Generate(testOptions, n); a != b {
			t.Fatalf("reading %d: %+v then %+v", n, a, b)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    iot.Options
		ok   bool
	}{
		{"zero", iot.Options{}, true},
		{"disorder below period", iot.Options{Disorder: 999 * time.Millisecond}, true},
		{"disorder of a period", iot.Options{Disorder: time.Second}, false},
		{"fractional ms period", iot.Options{Period: 1500 * time.Microsecond}, false},
		{"every sensor silent", iot.Options{SilentEvery: 1}, false},
	} {
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
