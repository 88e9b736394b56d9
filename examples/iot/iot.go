// Package iot is the sensor-monitoring example: generated temperature readings from a few hundred
// sensors, per-sensor anomaly detection against a running baseline with alerts for spikes and for
// sensors that go silent, and a per-sensor maximum in event-time tumbling windows.
package iot

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/connector/datagen"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/stream"
	"github.com/runnel-io/runnel/window"
)

// Reading is one temperature measurement.
type Reading struct {
	Sensor string
	Time   int64 // event time, epoch ms
	Temp   float64
}

// Options configure the generated readings. The zero Options is valid; each field documents its
// default.
type Options struct {
	// Start is the event time of the first round of readings; zero means 2026-01-01T00:00:00Z.
	Start time.Time
	// Sensors is the number of sensors. Default 300.
	Sensors int
	// Period is how often each sensor reports, in event time. Default 1s.
	Period time.Duration
	// SpikeEvery injects a spike (a reading 25°C off) at about one reading in SpikeEvery, at
	// positions fixed by a hash of the reading's number. The first 100 rounds carry no spikes so
	// detectors can warm up. Default 2,000; negative means no spikes.
	SpikeEvery int
	// SilentEvery makes every SilentEvery-th sensor (sensor SilentEvery-1, 2*SilentEvery-1, …) stop
	// reporting at SilentAfter. Default 50; negative means no sensor goes silent.
	SilentEvery int
	// SilentAfter is how long after Start the silent sensors stop. Default 5 minutes.
	SilentAfter time.Duration
	// Events bounds the stream; 0 means unbounded.
	Events int64
	// Rate limits generation to this many readings per wall-clock second; 0 means as fast as
	// possible.
	Rate float64
	// Disorder shifts each reading's event time back by up to this much, deterministically, so
	// the stream is out of order within that bound. It must be less than Period, so each sensor's
	// readings keep distinct times. Default 0.
	Disorder time.Duration
}

// cleanRounds is the number of rounds at the start that carry no spikes.
const cleanRounds = 100

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Sensors <= 0 {
		o.Sensors = 300
	}
	if o.Period <= 0 {
		o.Period = time.Second
	}
	if o.SpikeEvery == 0 {
		o.SpikeEvery = 2000
	}
	if o.SilentEvery == 0 {
		o.SilentEvery = 50
	}
	if o.SilentAfter <= 0 {
		o.SilentAfter = 5 * time.Minute
	}
	return o
}

// Validate reports options Generate cannot honour: a disorder of a period or more, a period that
// is not whole milliseconds, or a silent rule that would silence every sensor.
func (o Options) Validate() error {
	o = o.withDefaults()
	if o.Disorder < 0 || o.Disorder >= o.Period {
		return fmt.Errorf("iot: disorder %v must be in [0, period %v)", o.Disorder, o.Period)
	}
	if o.SilentEvery == 1 {
		return fmt.Errorf("iot: silent every 1 would silence every sensor")
	}
	if o.Period%time.Millisecond != 0 {
		return fmt.Errorf("iot: period %v must be whole milliseconds", o.Period)
	}
	return nil
}

// silent returns the number of silent sensors.
func (o Options) silent() int {
	if o.SilentEvery < 0 {
		return 0
	}
	return o.Sensors / o.SilentEvery
}

// place returns the round and sensor index of reading n.
func (o Options) place(n int64) (round int64, sensor int) {
	s := int64(o.Sensors)
	before := int64(o.SilentAfter / o.Period) // rounds in which every sensor reports
	q := o.silent()
	if q == 0 || n < before*s {
		return n / s, int(n % s)
	}
	// Afterwards the active sensors take turns; active index j skips one silent sensor per
	// SilentEvery-1 active ones.
	m, active := n-before*s, s-int64(q)
	j := m % active
	return before + m/active, int(j + j/int64(o.SilentEvery-1))
}

// SensorName returns the name of sensor i.
func SensorName(i int) string { return fmt.Sprintf("sensor-%03d", i) }

// SilentSensors returns the names of the sensors that stop reporting at o.SilentAfter.
func SilentSensors(o Options) []string {
	o = o.withDefaults()
	var names []string
	for i := range o.silent() {
		names = append(names, SensorName((i+1)*o.SilentEvery-1))
	}
	return names
}

// IsSpike reports whether Generate(o, n) is an injected spike: the ground truth for detectors.
func IsSpike(o Options, n int64) bool {
	o = o.withDefaults()
	if o.SpikeEvery < 0 {
		return false
	}
	round, _ := o.place(n)
	return round >= cleanRounds && mix(uint64(n)^0x5bd1e9955bd1e995)%uint64(o.SpikeEvery) == 0
}

// Generate returns reading n. It is a pure function of (o, n). Each sensor follows its own slow
// daily-like curve (an hour long) plus bounded noise; IsSpike says which readings are spikes.
func Generate(o Options, n int64) Reading {
	o = o.withDefaults()
	round, i := o.place(n)
	period := o.Period.Milliseconds()
	ts := o.Start.UnixMilli() + round*period + int64(i)*period/int64(o.Sensors)
	h := mix(uint64(n) + 0x9e3779b97f4a7c15)
	if d := o.Disorder.Milliseconds(); d > 0 {
		ts -= int64(h % uint64(d+1))
	}
	si := mix(uint64(i) + 1)
	base := 15 + float64(si%1000)/100                      // 15..25 °C
	amp := 1 + float64(si>>10%100)/100                     // 1..2 °C
	phase := float64(si>>20%628) / 100                     // 0..2π
	elapsed := float64(ts-o.Start.UnixMilli()) / 3_600_000 // hours
	noise := 0.3 * (unit(mix(h^1)) + unit(mix(h^2)) - 1)   // [-0.3, 0.3]
	temp := base + amp*math.Sin(2*math.Pi*elapsed+phase) + noise
	if IsSpike(o, n) {
		if h&1 == 0 {
			temp += 25
		} else {
			temp -= 25
		}
	}
	return Reading{Sensor: SensorName(i), Time: ts, Temp: temp}
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Source adds the generated readings to env, with event time from Reading.Time and watermarks
// trailing by the disorder bound. It returns Validate's error, or datagen's for bad options.
func Source(env *stream.Env, o Options) (stream.Stream[Reading], error) {
	if err := o.Validate(); err != nil {
		return stream.Stream[Reading]{}, err
	}
	o = o.withDefaults()
	src, err := datagen.New(func(n int64) Reading { return Generate(o, n) }, datagen.Config{Count: o.Events, Rate: o.Rate})
	if err != nil {
		return stream.Stream[Reading]{}, fmt.Errorf("iot: readings source: %w", err)
	}
	wm := eventtime.BoundedOutOfOrderness(o.Disorder, func(r Reading) int64 { return r.Time })
	return stream.FromSource(env, src, wm).Name("readings").Uid("readings"), nil
}

// Kind says why an Alert was raised.
type Kind uint8

const (
	// Spike is a reading more than Detector.K standard deviations from its sensor's baseline.
	Spike Kind = iota + 1
	// Silent is a sensor that sent nothing for Detector.Timeout of event time.
	Silent
)

func (k Kind) String() string {
	switch k {
	case Spike:
		return "spike"
	case Silent:
		return "silent"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText names k in JSON and other text output: "spike" or "silent". An unknown Kind is
// an error.
func (k Kind) MarshalText() ([]byte, error) {
	if k != Spike && k != Silent {
		return nil, fmt.Errorf("iot: no name for %v", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads the names MarshalText writes.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "spike":
		*k = Spike
	case "silent":
		*k = Silent
	default:
		return fmt.Errorf("iot: unknown alert kind %q: want spike or silent", b)
	}
	return nil
}

// Alert is one detected anomaly. Its JSON fields are named in lowerCamelCase, as every
// output record of the examples and the REST API.
type Alert struct {
	Sensor string `json:"sensor"`
	Kind   Kind   `json:"kind"`
	// Time is the spike's event time, or for Silent the time the timeout expired (last reading
	// plus Detector.Timeout), epoch ms.
	Time int64 `json:"time"`
	// Temp is the spiking reading, or for Silent the sensor's last reading.
	Temp float64 `json:"temp"`
	// Mean and StdDev are the sensor's baseline when the alert was raised.
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stdDev"`
}

// Baseline is a sensor's running mean and variance (Welford's algorithm) over its normal
// readings. The zero Baseline is empty.
type Baseline struct {
	N    int64
	Mean float64
	M2   float64 // sum of squared deviations from Mean
}

// Add folds x into the baseline.
func (b *Baseline) Add(x float64) {
	b.N++
	d := x - b.Mean
	b.Mean += d / float64(b.N)
	b.M2 += d * (x - b.Mean)
}

// StdDev is the sample standard deviation; 0 below two readings.
func (b Baseline) StdDev() float64 {
	if b.N < 2 {
		return 0
	}
	return math.Sqrt(b.M2 / float64(b.N-1))
}

// Check applies the detection rule to x: during warm-up (fewer than warmup readings) x joins the
// baseline and is normal; afterwards x is a spike if it lies more than k standard deviations from
// the mean, and spikes are kept out of the baseline. It returns whether x is a spike and the
// baseline's mean and standard deviation x was judged against.
func (b *Baseline) Check(x, k float64, warmup int64) (spike bool, mean, std float64) {
	mean, std = b.Mean, b.StdDev()
	if b.N >= warmup && math.Abs(x-mean) > k*std {
		return true, mean, std
	}
	b.Add(x)
	return false, mean, std
}

// Detector configures Alerts. The zero Detector is valid; each field documents its default.
type Detector struct {
	// K is how many standard deviations from the baseline make a spike. Default 4.
	K float64
	// Warmup is how many readings a sensor's baseline takes before it judges. Default 30.
	Warmup int64
	// Timeout is how long in event time a sensor may send nothing before a Silent alert.
	// Default 30s.
	Timeout time.Duration
}

func (d Detector) withDefaults() Detector {
	if d.K <= 0 {
		d.K = 4
	}
	if d.Warmup <= 0 {
		d.Warmup = 30
	}
	if d.Timeout <= 0 {
		d.Timeout = 30 * time.Second
	}
	return d
}

// Alerts detects anomalies with the default Detector.
func Alerts(readings stream.Stream[Reading]) stream.Stream[Alert] {
	return Detector{}.Alerts(readings)
}

// Alerts detects anomalies per sensor. Each sensor's readings are judged in event-time order
// (buffered until the watermark passes them, so results do not depend on arrival order or
// parallelism) against the sensor's Baseline, with Baseline.Check. A sensor whose last reading is
// followed by d.Timeout of event time without another raises one Silent alert, when the
// watermark passes that point; the end of a bounded stream is not silence. At the end of a
// bounded stream the engine first brings the watermark to where the readings reached (the
// latest reading's time less the disorder bound) and only then to eventtime.MaxTime, so a
// sensor silent for d.Timeout before that point raises its alert and one whose timeout runs
// past it does not, however fast the readings were produced. Readings behind the watermark on
// arrival are dropped and counted in the operator's metrics.LateRecordsDropped counter.
func (d Detector) Alerts(readings stream.Stream[Reading]) stream.Stream[Alert] {
	d = d.withDefaults()
	k := stream.KeyBy(readings, func(r Reading) string { return r.Sensor })
	return stream.KeyedProcess[Reading, string, Alert](k, &detect{d: d}).Name("anomalies").Uid("anomalies")
}

// sensor is the keyed state of one sensor besides its pending readings.
type sensor struct {
	Baseline
	Last     int64   // event time of the latest judged reading
	LastTemp float64 // its temperature
}

// detect is the KeyedProcessFunction of Detector.Alerts. Readings wait in pending, keyed by event
// time, under an event-time timer at that time; each judged reading also sets a timer at its time
// plus the timeout, which raises Silent if no later reading has been judged by then.
type detect struct {
	d       Detector
	pending state.Map[int64, []float64]
	sensor  state.Value[sensor]
	late    *atomic.Int64
}

func (f *detect) Open(rc *stream.KeyedRuntime[string]) error {
	f.pending = stream.NewMapState[int64, []float64](rc, state.Descriptor{Name: "pending"})
	f.sensor = stream.NewValueState[sensor](rc, state.Descriptor{Name: "sensor"})
	f.late = rc.Counter(metrics.LateRecordsDropped)
	return nil
}

func (f *detect) ProcessElement(ctx *stream.KeyedContext[string], r Reading, _ stream.Collector[Alert]) error {
	if r.Time <= ctx.CurrentWatermark() {
		f.late.Add(1)
		return nil
	}
	temps, _ := f.pending.Get(r.Time)
	f.pending.Put(r.Time, append(temps, r.Temp))
	ctx.RegisterEventTimeTimer(r.Time)
	return nil
}

func (f *detect) OnTimer(ctx *stream.KeyedContext[string], at int64, out stream.Collector[Alert]) error {
	s, _ := f.sensor.Value()
	if temps, ok := f.pending.Get(at); ok {
		f.pending.Remove(at)
		for _, x := range temps {
			if spike, mean, std := s.Check(x, f.d.K, f.d.Warmup); spike {
				out.CollectAt(Alert{Sensor: ctx.Key(), Kind: Spike, Time: at, Temp: x, Mean: mean, StdDev: std}, at)
			}
			s.Last, s.LastTemp = at, x
		}
		f.sensor.Update(s)
		ctx.RegisterEventTimeTimer(at + f.d.Timeout.Milliseconds())
		return nil
	}
	// At MaxTime the timer lies past the watermark the readings reached (the engine emits that
	// one before the end of input): the stream ended before the sensor could fall silent.
	if ctx.CurrentWatermark() == eventtime.MaxTime || s.Last+f.d.Timeout.Milliseconds() != at {
		return nil // end of input, or a later reading reset the timeout
	}
	out.CollectAt(Alert{Sensor: ctx.Key(), Kind: Silent, Time: at, Temp: s.LastTemp, Mean: s.Mean, StdDev: s.StdDev()}, at)
	return nil
}

// SensorMax is a sensor's highest temperature in one window.
type SensorMax struct {
	Sensor      string  `json:"sensor"`
	WindowStart int64   `json:"windowStart"` // epoch ms
	WindowEnd   int64   `json:"windowEnd"`
	Max         float64 `json:"max"`
}

// Summary computes each sensor's maximum temperature in tumbling event-time windows of size.
func Summary(readings stream.Stream[Reading], size time.Duration) stream.Stream[SensorMax] {
	k := stream.KeyBy(readings, func(r Reading) string { return r.Sensor })
	w := stream.Window(k, window.TumblingEventTime(size))
	return stream.WindowAggregateProcess(w, state.AggregateFunction[Reading, float64, float64]{
		Create: func() float64 { return math.Inf(-1) },
		Add:    func(acc float64, r Reading) float64 { return max(acc, r.Temp) },
		Result: func(acc float64) float64 { return acc },
		Merge:  func(a, b float64) float64 { return max(a, b) },
	}, stream.ProcessWindowFunc[string, float64, SensorMax](func(ctx *stream.WindowContext[string], maxes []float64, out stream.Collector[SensorMax]) error {
		for _, m := range maxes {
			out.Collect(SensorMax{Sensor: ctx.Key(), WindowStart: ctx.Window().Start, WindowEnd: ctx.Window().End, Max: m})
		}
		return nil
	})).Name("sensor max").Uid("sensor-max")
}
