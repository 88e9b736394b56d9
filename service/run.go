package service

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service/lifecycle"
	"github.com/runnel-io/runnel/service/store"
	"github.com/runnel-io/runnel/service/supervisor"
)

// This file carries out the lifecycle's actions: it starts and stops processes with the
// supervisor, in goroutines of their own, and reports what happened back to the lifecycle as
// events, each applied in one store transaction under the application's lock.

// KPUs: Managed Flink's Kinesis Processing Unit is 1 vCPU and 4 GB of memory. A process at
// parallelism P with ParallelismPerKPU K gets ceil(P/K) KPUs: GOMAXPROCS of that many (at most
// the machine's CPUs) and a soft memory limit (GOMEMLIMIT) of 4 GiB per KPU.
const kpuMemory = 4 << 30

// Restart backoff after crashes: doubling from minBackoff to maxBackoff, back to the minimum
// once a process ran stableAfter.
const (
	minBackoff  = time.Second
	maxBackoff  = time.Minute
	stableAfter = 5 * time.Minute
)

// carryOut starts the actions' work. The caller holds a.mu.
func (s *Server) carryOut(name string, a *appRT, acts []lifecycle.Action) {
	for _, act := range acts {
		switch act := act.(type) {
		case lifecycle.StartProcess:
			delay := a.nextDelay
			a.nextDelay = 0
			s.wg.Go(func() { s.startProcess(name, a, act, delay) })
		case lifecycle.StopProcess:
			a.stopped = true
			p := a.proc
			s.wg.Go(func() { s.stopProcess(name, p, act) })
		case lifecycle.Forget:
			s.wg.Go(func() { s.removeFiles(name) })
		}
	}
}

// event applies ev to the application and carries out what follows.
func (s *Server) event(name string, ev lifecycle.Event) {
	a := s.rt(name)
	a.mu.Lock()
	defer a.mu.Unlock()
	var acts []lifecycle.Action
	err := s.store.Update(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		now := time.Now()
		var ended []*lifecycle.Operation
		acts, ended = r.State.Handle(now, ev)
		if _, ok := ev.(lifecycle.Crashed); ok && len(acts) > 0 {
			// A restart after a crash: back off, more each time unless it ran a while.
			switch {
			case time.Since(a.started) > stableAfter || a.backoff == 0:
				a.backoff = minBackoff
			default:
				a.backoff = min(2*a.backoff, maxBackoff)
			}
			a.nextDelay = a.backoff
		}
		if r.State.Running == 0 {
			r.PID = 0
		}
		r.Updated = now
		if err := saveOps(tx, r, ended...); err != nil {
			return err
		}
		if err := saveOps(tx, r, r.State.Op); err != nil {
			return err
		}
		for _, act := range acts {
			if _, ok := act.(lifecycle.Forget); ok {
				return deleteApp(tx, name)
			}
		}
		return put(tx, appKey(name), r)
	})
	if err != nil {
		s.log.Error("recording an application event", "application", name, "event", fmt.Sprintf("%T", ev), "err", err)
		return
	}
	s.carryOut(name, a, acts)
}

// startProcess starts a process of the action's version and reports Started or StartFailed.
func (s *Server) startProcess(name string, a *appRT, act lifecycle.StartProcess, delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
	spec, err := s.spec(name, a, act)
	if err != nil {
		a.log.Printf("runnel: the process cannot start: %v", err)
		s.event(name, lifecycle.StartFailed{Err: err.Error()})
		return
	}
	a.log.Printf("runnel: starting version %d at parallelism %d (%s)", act.Version, act.Parallelism, restoreString(act.Restore))
	p, err := supervisor.Start(s.ctx, spec)
	if s.ctx.Err() != nil {
		return // the server is closing: the application starts again with it
	}
	if err != nil {
		a.log.Printf("runnel: the process failed to start: %v", err)
		s.event(name, lifecycle.StartFailed{Err: firstLine(err.Error())})
		return
	}
	a.mu.Lock()
	a.proc, a.stopped, a.started = p, false, time.Now()
	a.mu.Unlock()
	_ = s.store.Update(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		r.PID = p.PID()
		return put(tx, appKey(name), r)
	})
	s.event(name, lifecycle.Started{})
	s.wg.Go(func() {
		select {
		case <-p.Exited():
		case <-s.ctx.Done():
			return
		}
		a.mu.Lock()
		mine := a.proc == p
		stopped := a.stopped
		if mine {
			a.proc = nil
		}
		a.mu.Unlock()
		if mine && !stopped {
			err := p.Err()
			if err == nil {
				a.log.Printf("runnel: the job finished (its input ended)")
				s.event(name, lifecycle.Finished{})
				return
			}
			why := fmt.Sprintf("the process exited: %v", err)
			a.log.Printf("runnel: %s; restarting from the latest snapshot", why)
			s.event(name, lifecycle.Crashed{Err: why})
		}
	})
}

// stopProcess stops p as act says and reports Stopped.
func (s *Server) stopProcess(name string, p *supervisor.Process, act lifecycle.StopProcess) {
	a := s.rt(name)
	if p == nil {
		ev := lifecycle.Stopped{}
		if act.Snapshot {
			ev.Err = "no process was running to take a snapshot of"
		}
		s.event(name, ev)
		return
	}
	switch {
	case act.Force:
		p.Kill()
		<-p.Exited()
		a.log.Printf("runnel: the process was stopped by force")
		s.event(name, lifecycle.Stopped{})
	case act.Snapshot:
		snap := fmt.Sprintf("auto-%s-%d", "stop", time.Now().UnixMilli())
		loc, err := s.takeSnapshot(name, p, snap, true)
		if err != nil {
			a.log.Printf("runnel: the stop with a snapshot failed (%v); stopping without one", err)
			p.Stop(30 * time.Second)
			s.event(name, lifecycle.Stopped{Err: "the snapshot failed: " + err.Error()})
			return
		}
		<-p.Exited()
		a.log.Printf("runnel: stopped with snapshot %s", snap)
		s.event(name, lifecycle.Stopped{Snapshot: loc})
	default:
		p.Stop(30 * time.Second)
		a.log.Printf("runnel: stopped")
		s.event(name, lifecycle.Stopped{})
	}
}

// takeSnapshot takes the snapshot name of the application's process p (with stop, a stop
// with savepoint) and records it: CREATING, then READY or FAILED. It returns its location.
func (s *Server) takeSnapshot(name string, p *supervisor.Process, snap string, stop bool) (string, error) {
	var rec snapshot
	err := s.store.Update(func(tx store.Tx) error {
		r, err := getRecord(tx, name)
		if err != nil {
			return err
		}
		rec = snapshot{Name: snap, Status: types.SnapshotStatusCreating, Version: r.State.Version, Runtime: r.Runtime, Created: time.Now().UTC()}
		return put(tx, snapKey(name, snap), rec)
	})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
	defer cancel()
	loc, serr := p.Savepoint(ctx, s.snapshotDir(name, snap), stop)
	rec.Status, rec.Location = types.SnapshotStatusReady, loc
	if serr != nil {
		rec.Status, rec.Error = types.SnapshotStatusFailed, serr.Error()
	}
	if err := s.store.Update(func(tx store.Tx) error { return put(tx, snapKey(name, snap), rec) }); err != nil {
		return "", err
	}
	return loc, serr
}

// storagePath joins elements below the storage root (a directory or an s3:// URL).
func (s *Server) storagePath(elem ...string) string {
	if strings.Contains(s.cfg.Storage, "://") {
		base, query, _ := strings.Cut(s.cfg.Storage, "?")
		out := strings.TrimSuffix(base, "/") + "/" + strings.Join(elem, "/")
		if query != "" {
			out += "?" + query
		}
		return out
	}
	return filepath.Join(append([]string{s.cfg.Storage}, elem...)...)
}

func (s *Server) checkpointDir(app string) string { return s.storagePath("apps", app, "checkpoints") }

func (s *Server) snapshotDir(app, snap string) string {
	return s.storagePath("apps", app, "snapshots", snap)
}

// spec returns how to run a process of the action's version.
func (s *Server) spec(name string, a *appRT, act lifecycle.StartProcess) (supervisor.Spec, error) {
	var (
		v   *version
		loc string
	)
	err := s.store.View(func(tx store.Tx) error {
		var err error
		if v, err = getVersion(tx, name, act.Version); err != nil {
			return err
		}
		if act.Restore.Mode == lifecycle.RestoreCustom && act.Restore.Location == "" {
			var snap snapshot
			if err := get(tx, snapKey(name, act.Restore.Snapshot), &snap); err != nil {
				return fmt.Errorf("snapshot %s: %w", act.Restore.Snapshot, err)
			}
			loc = snap.Location
		}
		return nil
	})
	if err != nil {
		return supervisor.Spec{}, err
	}
	set := settingsOf(v.Config)
	if set.codeType != types.CodeContentTypeZipfile {
		return supervisor.Spec{}, fmt.Errorf("version %d has no code: give ApplicationCodeConfiguration with a ZIPFILE", act.Version)
	}
	codeDir := s.versionCode(name, act.Version)
	runDir := filepath.Join(s.cfg.DataDir, "apps", name, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return supervisor.Spec{}, err
	}
	props := filepath.Join(runDir, "application_properties.json")
	if err := writeProperties(props, set.properties); err != nil {
		return supervisor.Spec{}, err
	}
	interval := time.Duration(0)
	if set.checkpointing {
		interval = set.interval
	}
	args := []string{
		"--checkpoint-dir", s.checkpointDir(name),
		"--checkpoint-interval", interval.String(),
		"--min-pause", set.pause.String(),
		"--parallelism", fmt.Sprint(act.Parallelism),
		"--savepoint-dir", s.storagePath("apps", name, "snapshots", "requested"),
	}
	switch act.Restore.Mode {
	case lifecycle.RestoreLatest, "":
		args = append(args, "--restore", "latest")
	case lifecycle.RestoreCustom:
		if act.Restore.Location != "" {
			loc = act.Restore.Location
		}
		args = append(args, "--from-savepoint", loc)
	case lifecycle.SkipRestore:
	}
	if act.Restore.AllowNonRestoredState {
		args = append(args, "--allow-non-restored-state")
	}
	k := kpus(act.Parallelism, set.perKPU)
	env := append([]string{
		fmt.Sprintf("GOMAXPROCS=%d", min(k, runtime.NumCPU())),
		fmt.Sprintf("GOMEMLIMIT=%d", int64(k)*kpuMemory),
		"RUNNEL_APPLICATION_PROPERTIES=" + props,
		"RUNNEL_APPLICATION_NAME=" + name,
	}, s.cfg.AppEnv...)
	return supervisor.Spec{Binary: filepath.Join(codeDir, "bootstrap"), Dir: codeDir, Args: args, Env: env,
		Log: a.log, StartTimeout: s.cfg.StartTimeout}, nil
}

// writeProperties writes the property groups as Managed Flink hands them to applications:
// application_properties.json, a list of PropertyGroupId and PropertyMap.
func writeProperties(path string, groups []types.PropertyGroup) error {
	type group struct {
		PropertyGroupID string            `json:"PropertyGroupId"`
		PropertyMap     map[string]string `json:"PropertyMap"`
	}
	out := make([]group, 0, len(groups))
	for _, g := range groups {
		id := ""
		if g.PropertyGroupId != nil {
			id = *g.PropertyGroupId
		}
		out = append(out, group{PropertyGroupID: id, PropertyMap: g.PropertyMap})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// removeFiles deletes what a deleted application left: its code, logs and local storage.
func (s *Server) removeFiles(name string) {
	s.forget(name)
	_ = os.RemoveAll(filepath.Join(s.cfg.DataDir, "apps", name))
	if !strings.Contains(s.cfg.Storage, "://") {
		_ = os.RemoveAll(s.storagePath("apps", name))
	}
}

func restoreString(r lifecycle.Restore) string {
	switch {
	case r.Location != "":
		return "from " + r.Location
	case r.Snapshot != "":
		return "from snapshot " + r.Snapshot
	case r.Mode == lifecycle.SkipRestore:
		return "without restoring"
	}
	return "from the latest snapshot"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
