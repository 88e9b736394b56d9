package service

import (
	"fmt"
	"time"

	"github.com/runnel-io/runnel/service/lifecycle"
	"github.com/runnel-io/runnel/service/store"
)

// Autoscaling. Managed Flink scales on CPU alone (up after 15 minutes above 75%, down after
// hours below 10%). Runnel looks at what actually says an application cannot keep up: its
// tasks backpressured, or its sources' lag growing, for a whole window, doubles its
// parallelism; mostly idle for a longer window, halves it. A scale is a stop with a snapshot
// and a start from it at the new parallelism (AUTOSCALING), so exactly-once sinks lose and
// repeat nothing. After a scale the history starts again.

// Autoscale configures the autoscaler. The zero value takes the defaults each field states.
type Autoscale struct {
	// Window is how long the pressure must last before a scale up. Default 5 minutes.
	Window time.Duration
	// DownWindow is how long an application must be mostly idle before a scale down. Default
	// 6 × Window.
	DownWindow time.Duration
	// Backpressure is the share of time (0..1) the most backpressured task must spend
	// backpressured, at every sample of the window, to scale up. Default 0.5.
	Backpressure float64
	// Idle is the mean share of time tasks must spend idle, at every sample of DownWindow, to
	// scale down. Default 0.9.
	Idle float64
	// MaxKPUs bounds the KPUs autoscaling gives an application. Default 32 (the service's
	// default quota).
	MaxKPUs int
}

func (a Autoscale) withDefaults() Autoscale {
	if a.Window <= 0 {
		a.Window = 5 * time.Minute
	}
	if a.DownWindow <= 0 {
		a.DownWindow = 6 * a.Window
	}
	if a.Backpressure <= 0 {
		a.Backpressure = 0.5
	}
	if a.Idle <= 0 {
		a.Idle = 0.9
	}
	if a.MaxKPUs <= 0 {
		a.MaxKPUs = 32
	}
	return a
}

// decide returns the parallelism history says an application at parallelism p (at most max)
// should have, and why; p itself when nothing should change.
func (a Autoscale) decide(history []point, p, max int, now time.Time) (int, string) {
	covers := func(window time.Duration) []point {
		if len(history) == 0 || now.Sub(history[0].at) < window {
			return nil
		}
		i := len(history) - 1
		for i > 0 && now.Sub(history[i-1].at) <= window {
			i--
		}
		return history[i:]
	}
	if w := covers(a.Window); len(w) >= 2 && p < max {
		pressed := true
		for _, pt := range w {
			if pt.backpressured < a.Backpressure {
				pressed = false
			}
		}
		growing := w[len(w)-1].lag > w[0].lag && w[0].lag > 0
		for i := 1; i < len(w) && growing; i++ {
			if w[i].lag < w[i-1].lag {
				growing = false
			}
		}
		switch {
		case pressed:
			return min(max, 2*p), fmt.Sprintf("backpressured more than %.0f%% of the time for %v", 100*a.Backpressure, a.Window)
		case growing:
			return min(max, 2*p), fmt.Sprintf("the sources' lag grew from %d to %d over %v", w[0].lag, w[len(w)-1].lag, a.Window)
		}
	}
	if w := covers(a.DownWindow); len(w) >= 2 && p > 1 {
		for _, pt := range w {
			if pt.idle < a.Idle || pt.backpressured > 0 {
				return p, ""
			}
		}
		return p / 2, fmt.Sprintf("idle more than %.0f%% of the time for %v", 100*a.Idle, a.DownWindow)
	}
	return p, ""
}

// autoscale scales the running applications with autoscaling on that need it.
func (s *Server) autoscale() {
	s.metricsMu.Lock()
	histories := map[string][]point{}
	for name, am := range s.metrics {
		histories[name] = append([]point(nil), am.history...)
	}
	s.metricsMu.Unlock()
	now := time.Now()
	for name, h := range histories {
		var (
			target int
			why    string
		)
		err := s.withApp(name, func(tx store.Tx, r *record, a *appRT) ([]lifecycle.Action, error) {
			if r.State.Status != lifecycle.Running || r.State.Op != nil || a.proc == nil {
				return nil, nil
			}
			v, err := getVersion(tx, name, r.State.Version)
			if err != nil {
				return nil, err
			}
			set := settingsOf(v.Config)
			if !set.autoscaling {
				return nil, nil
			}
			target, why = s.cfg.Autoscale.decide(h, r.State.Parallelism, min(maxParallelism, s.cfg.Autoscale.MaxKPUs*set.perKPU), now)
			if target == r.State.Parallelism {
				return nil, nil
			}
			op, acts, err := r.State.Scale(now, target, why)
			if err != nil || op == nil {
				return nil, err
			}
			a.log.Printf("runnel: autoscaling from parallelism %d to %d: %s", r.State.PrevParallelism, target, why)
			return acts, saveOps(tx, r, op)
		})
		if err != nil {
			s.log.Warn("autoscaling", "application", name, "err", err)
			continue
		}
		if why != "" {
			s.metricsMu.Lock()
			if am := s.metrics[name]; am != nil {
				am.history = nil
			}
			s.metricsMu.Unlock()
		}
	}
}
