package service

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Application logs: each application's process output (its structured log lines) and the
// server's notes about it ("runnel: ..."), kept in DataDir/apps/<name>/logs as current.log
// and, once that passes logMaxSize, rotated to current.log.1, .2, ... up to logKeep files.

const (
	logMaxSize = 10 << 20
	logKeep    = 3
)

// rotatingLog is an application's log. It is safe for concurrent use.
type rotatingLog struct {
	dir    string
	mu     sync.Mutex
	f      *os.File
	size   int64
	closed bool
	// waiters are woken when something is written (GET .../logs?follow=true).
	waiters []chan struct{}
}

func newRotatingLog(dir string) *rotatingLog { return &rotatingLog{dir: dir} }

func (l *rotatingLog) path() string { return filepath.Join(l.dir, "current.log") }

// Write appends p (whole lines, from the supervisor).
func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	if l.f == nil {
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return 0, err
		}
		f, err := os.OpenFile(l.path(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return 0, err
		}
		fi, _ := f.Stat()
		l.f, l.size = f, fi.Size()
	}
	if l.size+int64(len(p)) > logMaxSize {
		l.rotateLocked()
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	for _, w := range l.waiters {
		close(w)
	}
	l.waiters = nil
	return n, err
}

// Printf writes a line of the server's own, timestamped like the processes' lines.
func (l *rotatingLog) Printf(format string, args ...any) {
	line := fmt.Sprintf("time=%s level=INFO msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	_, _ = l.Write([]byte(line))
}

func (l *rotatingLog) rotateLocked() {
	_ = l.f.Close()
	for i := logKeep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.path(), i), fmt.Sprintf("%s.%d", l.path(), i+1))
	}
	_ = os.Rename(l.path(), l.path()+".1")
	_ = os.Remove(fmt.Sprintf("%s.%d", l.path(), logKeep+1))
	f, err := os.OpenFile(l.path(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		l.f = nil
		return
	}
	l.f, l.size = f, 0
}

// wait returns a channel closed at the next write.
func (l *rotatingLog) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	return ch
}

func (l *rotatingLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	l.closed = true
	for _, w := range l.waiters {
		close(w)
	}
	l.waiters = nil
}

// serveLogs serves GET /v1/applications/{name}/logs: the application's log lines, oldest
// first, optionally only those of a level (level=ERROR) and the last n (tail=100); with
// follow=true it then streams new lines until the client goes away.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.authenticateHTTP(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if !s.exists(name) {
		http.Error(w, fmt.Sprintf("application %s does not exist", name), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	level := strings.ToUpper(q.Get("level"))
	tail, _ := strconv.Atoi(q.Get("tail"))
	follow := q.Get("follow") == "true" || q.Get("follow") == "1"
	l := s.rt(name).log
	match := func(line string) bool { return level == "" || strings.Contains(line, "level="+level) }
	var lines []string
	for i := logKeep; i >= 0; i-- {
		p := l.path()
		if i > 0 {
			p = fmt.Sprintf("%s.%d", p, i)
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if match(sc.Text()) {
				lines = append(lines, sc.Text())
			}
		}
		f.Close()
	}
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, line := range lines {
		fmt.Fprintln(w, line)
	}
	if !follow {
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	f, err := os.Open(l.path())
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Seek(0, io.SeekEnd)
	rd := bufio.NewReader(f)
	for {
		ch := l.wait()
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				break
			}
			if match(line) {
				_, _ = io.WriteString(w, line)
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}
