package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/runnel-io/runnel/app"
	"github.com/runnel-io/runnel/service/lifecycle"
	"github.com/runnel-io/runnel/service/store"
	"github.com/runnel-io/runnel/service/supervisor"
)

// Metrics: the server samples every running application's process (GET /v1/job and
// /v1/metrics, and /proc for CPU) every MetricsInterval, keeps the last two samples, and
// exports on GET /metrics, for Prometheus, the figures Managed Flink publishes to CloudWatch,
// under the same names, labelled by application (and operator or task where they apply). The
// autoscaler reads the same samples. This file is the one importer of the Prometheus client.

// sample is one look at a process.
type sample struct {
	at   time.Time
	job  app.JobInfo
	m    app.MetricsInfo
	cpu  time.Duration // the process's CPU time (user + system) so far
	kpus int
}

// appMetrics are an application's samples. Guarded by Server.metricsMu.
type appMetrics struct {
	prev, cur *sample
	history   []point // for the autoscaler, oldest first
}

// point is what the autoscaler looks at, per sample.
type point struct {
	at            time.Time
	backpressured float64 // the highest share of time a task spent backpressured, 0..1
	idle          float64 // the mean share of time tasks spent idle, 0..1
	lag           int64   // the sources' largest lag (records_lag_max or millisBehindLatest)
}

// sampleLoop samples the running applications until the server closes.
func (s *Server) sampleLoop() {
	t := time.NewTicker(s.cfg.MetricsInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		procs := map[string]*supervisor.Process{}
		for name, a := range s.apps {
			a.mu.Lock()
			if a.proc != nil {
				procs[name] = a.proc
			}
			a.mu.Unlock()
		}
		s.mu.Unlock()
		for name, p := range procs {
			s.sampleApp(name, p)
		}
		s.autoscale()
	}
}

func (s *Server) sampleApp(name string, p *supervisor.Process) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	job, err := p.Job(ctx)
	if err != nil {
		return
	}
	var m app.MetricsInfo
	if err := getJSON(ctx, p.Address()+"/v1/metrics", &m); err != nil {
		return
	}
	kpu := 1
	_ = s.store.View(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		v, err := getVersion(tx, name, r.State.Version)
		if err != nil {
			return err
		}
		kpu = kpus(r.State.Parallelism, settingsOf(v.Config).perKPU)
		return nil
	})
	cur := &sample{at: m.Time, job: job, m: m, cpu: processCPU(p.PID()), kpus: kpu}
	if cur.at.IsZero() {
		return // no metrics snapshot yet
	}
	s.metricsMu.Lock()
	defer s.metricsMu.Unlock()
	am := s.metrics[name]
	if am == nil {
		am = &appMetrics{}
		s.metrics[name] = am
	}
	if am.cur != nil && am.cur.m.Process.PID == cur.m.Process.PID && !cur.m.Time.After(am.cur.m.Time) {
		// The job has not taken a new metrics snapshot since: rates need two different ones.
		cur.m, cur.at = am.cur.m, am.cur.at
		am.cur.job = cur.job
		return
	}
	am.prev, am.cur = am.cur, cur
	if am.prev != nil && am.prev.m.Process.PID == cur.m.Process.PID {
		am.history = append(am.history, pointOf(am.prev, cur))
		cut := 0
		for cut < len(am.history) && cur.at.Sub(am.history[cut].at) > 4*s.cfg.Autoscale.Window {
			cut++
		}
		am.history = am.history[cut:]
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// processCPU returns the CPU time process pid used so far (/proc/<pid>/stat: utime + stime
// in clock ticks of 1/100 s); 0 where /proc is missing.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

func pointOf(prev, cur *sample) point {
	dt := cur.at.Sub(prev.at).Milliseconds()
	if dt <= 0 {
		dt = 1
	}
	p := point{at: cur.at}
	before := map[string]app.TaskMetrics{}
	for _, t := range prev.m.Tasks {
		before[fmt.Sprintf("%s/%d", t.Name, t.Subtask)] = t
	}
	n := 0
	for _, t := range cur.m.Tasks {
		b, ok := before[fmt.Sprintf("%s/%d", t.Name, t.Subtask)]
		if !ok {
			continue
		}
		bp := float64(t.BackpressuredMs-b.BackpressuredMs) / float64(dt)
		idle := float64(t.IdleMs-b.IdleMs) / float64(dt)
		p.backpressured = max(p.backpressured, min(1, max(0, bp)))
		p.idle += min(1, max(0, idle))
		n++
	}
	if n > 0 {
		p.idle /= float64(n)
	}
	for _, o := range cur.m.Operators {
		for k, v := range o.Gauges {
			if k == "records_lag_max" || k == "millisBehindLatest" {
				p.lag = max(p.lag, v)
			}
		}
	}
	return p
}

// collector exports the samples on GET /metrics.
type collector struct{ s *Server }

var (
	labelsApp      = []string{"application"}
	labelsOperator = []string{"application", "operator"}
	labelsTask     = []string{"application", "task", "subtask"}
	desc           = map[string]*prometheus.Desc{}
	descMu         sync.Mutex
)

func metricDesc(name, help string, labels []string) *prometheus.Desc {
	descMu.Lock()
	defer descMu.Unlock()
	d, ok := desc[name]
	if !ok {
		d = prometheus.NewDesc(name, help, labels, nil)
		desc[name] = d
	}
	return d
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	type appState struct {
		status   lifecycle.Status
		restarts int
		running  time.Time
	}
	states := map[string]appState{}
	_ = s.store.View(func(tx store.Tx) error {
		for r, err := range scan[record](tx, "apps/") {
			if err == nil {
				states[r.Name] = appState{status: r.State.Status, restarts: r.State.Restarts}
			}
		}
		return nil
	})
	s.mu.Lock()
	for name, a := range s.apps {
		a.mu.Lock()
		if st, ok := states[name]; ok && a.proc != nil {
			st.running = a.started
			states[name] = st
		}
		a.mu.Unlock()
	}
	s.mu.Unlock()
	gauge := func(name, help string, labels []string, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(metricDesc(name, help, labels), prometheus.GaugeValue, v, lv...)
	}
	s.metricsMu.Lock()
	defer s.metricsMu.Unlock()
	for name, st := range states {
		var uptime, downtime float64
		if !st.running.IsZero() && st.status == lifecycle.Running {
			uptime = float64(time.Since(st.running).Milliseconds())
		} else if st.status == lifecycle.Running || st.status == lifecycle.Starting {
			downtime = 1 // restarting: Managed Flink reports the time down; we know it is down
		}
		gauge("uptime", "time the application's job has been running without interruption, in ms", labelsApp, uptime, name)
		gauge("downtime", "for a job that is failing or restarting, the time it has been down, in ms", labelsApp, downtime, name)
		am := s.metrics[name]
		restarts := float64(st.restarts)
		if am != nil && am.cur != nil && am.cur.job.Checkpoints != nil {
			restarts += float64(am.cur.job.Checkpoints.Restarts)
		}
		gauge("fullRestarts", "times the job restarted after a failure", labelsApp, restarts, name)
		if am == nil || am.cur == nil || st.status != lifecycle.Running {
			continue
		}
		cur, prev := am.cur, am.prev
		if ck := cur.job.Checkpoints; ck != nil {
			gauge("numberOfFailedCheckpoints", "checkpoints that failed", labelsApp, float64(ck.Failed), name)
			gauge("lastCheckpointDuration", "the last checkpoint's duration, in ms", labelsApp, float64(ck.LastDurationMs), name)
			gauge("lastCheckpointSize", "the last checkpoint's size, in bytes", labelsApp, float64(ck.LastSizeBytes), name)
		}
		gauge("KPUs", "Kinesis Processing Units the application uses (1 vCPU and 4 GB each)", labelsApp, float64(cur.kpus), name)
		if cur.m.Process.HeapBytes > 0 {
			gauge("heapMemoryUtilization", "heap in use over the memory of the application's KPUs, in percent", labelsApp,
				100*float64(cur.m.Process.HeapBytes)/float64(int64(cur.kpus)*kpuMemory), name)
		}
		if prev == nil || prev.m.Process.PID != cur.m.Process.PID {
			continue
		}
		dt := cur.at.Sub(prev.at).Seconds()
		if dt <= 0 {
			continue
		}
		gauge("cpuUtilization", "CPU used over the CPUs of the application's KPUs, in percent", labelsApp,
			100*(cur.cpu-prev.cpu).Seconds()/dt/float64(cur.kpus), name)
		type opAgg struct {
			in, out, prevIn, prevOut int64
			inWM, outWM              int64
			lagMax, behind           int64
			hasLag, hasBehind, first bool
		}
		ops := map[string]*opAgg{}
		for _, o := range cur.m.Operators {
			a := ops[o.Operator]
			if a == nil {
				a = &opAgg{inWM: o.InputWatermark, outWM: o.OutputWatermark, first: true}
				ops[o.Operator] = a
			}
			a.in += o.RecordsIn
			a.out += o.RecordsOut
			a.inWM, a.outWM = min(a.inWM, o.InputWatermark), min(a.outWM, o.OutputWatermark)
			if v, ok := o.Gauges["records_lag_max"]; ok {
				a.lagMax, a.hasLag = max(a.lagMax, v), true
			}
			if v, ok := o.Gauges["millisBehindLatest"]; ok {
				a.behind, a.hasBehind = max(a.behind, v), true
			}
		}
		for _, o := range prev.m.Operators {
			if a := ops[o.Operator]; a != nil {
				a.prevIn += o.RecordsIn
				a.prevOut += o.RecordsOut
			}
		}
		for op, a := range ops {
			gauge("numRecordsInPerSecond", "records the operator received per second", labelsOperator, float64(a.in-a.prevIn)/dt, name, op)
			gauge("numRecordsOutPerSecond", "records the operator emitted per second", labelsOperator, float64(a.out-a.prevOut)/dt, name, op)
			gauge("currentInputWatermark", "the operator's input watermark, epoch ms (lowest over subtasks)", labelsOperator, float64(a.inWM), name, op)
			gauge("currentOutputWatermark", "the operator's output watermark, epoch ms (lowest over subtasks)", labelsOperator, float64(a.outWM), name, op)
			if a.hasLag {
				gauge("records_lag_max", "a Kafka source's largest lag over its partitions, in records", labelsOperator, float64(a.lagMax), name, op)
			}
			if a.hasBehind {
				gauge("millisBehindLatest", "how far a Kinesis source reads behind the tip of its stream, in ms", labelsOperator, float64(a.behind), name, op)
			}
		}
		before := map[string]app.TaskMetrics{}
		for _, t := range prev.m.Tasks {
			before[fmt.Sprintf("%s/%d", t.Name, t.Subtask)] = t
		}
		for _, t := range cur.m.Tasks {
			b, ok := before[fmt.Sprintf("%s/%d", t.Name, t.Subtask)]
			if !ok {
				continue
			}
			bp := float64(t.BackpressuredMs-b.BackpressuredMs) / dt
			idle := float64(t.IdleMs-b.IdleMs) / dt
			sub := strconv.Itoa(t.Subtask)
			gauge("backPressuredTimeMsPerSecond", "ms per second the task was backpressured", labelsTask, bp, name, t.Name, sub)
			gauge("idleTimeMsPerSecond", "ms per second the task waited for input", labelsTask, idle, name, t.Name, sub)
			gauge("busyTimeMsPerSecond", "ms per second the task was busy", labelsTask, max(0, 1000-bp-idle), name, t.Name, sub)
		}
	}
}

// metricsHandler serves GET /metrics.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
