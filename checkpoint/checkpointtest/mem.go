// Package checkpointtest helps test code that uses checkpoint storage: Mem, an in-memory
// Storage with fault injection, and StorageSuite, the conformance tests every
// checkpoint.Storage implementation passes.
package checkpointtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
)

// Mem is an in-memory checkpoint.Storage. A file becomes visible when its writer is closed,
// like any Storage. Mem does not implement checkpoint.RangeOpener, so code under test takes
// the fallback path of checkpoint.OpenRange. ModTime is a counter of writes (in nanoseconds
// since the epoch), not the wall clock. Mem is safe for concurrent use.
type Mem struct {
	mu    sync.Mutex
	files map[string]memFile
	seq   int64
	fault func(op, name string) error
	lease *memLease // the lease held now, if any
}

type memFile struct {
	data []byte
	mod  time.Time
}

var _ checkpoint.Storage = (*Mem)(nil)

// NewMem returns an empty Mem.
func NewMem() *Mem { return &Mem{files: map[string]memFile{}} }

// InjectFault makes every later operation call f first with the operation ("create", "write",
// "close", "open", "stat", "list", "delete") and the file name (the prefix for "list"); if f
// returns an error, the operation fails with it (a failed "write" or "close" leaves nothing
// visible, as the contract says). nil removes the fault.
func (m *Mem) InjectFault(f func(op, name string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fault = f
}

func (m *Mem) check(op, name string) error {
	m.mu.Lock()
	f := m.fault
	m.mu.Unlock()
	if f != nil {
		return f(op, name)
	}
	return nil
}

// Files returns the names of the visible files, sorted.
func (m *Mem) Files() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.files))
	for n := range m.files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Put writes a file at once, bypassing faults: for setting up test cases.
func (m *Mem) Put(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(name, bytes.Clone(data))
}

func (m *Mem) put(name string, data []byte) {
	m.seq++
	m.files[name] = memFile{data: data, mod: time.Unix(0, m.seq)}
}

// Create implements checkpoint.Storage.
func (m *Mem) Create(ctx context.Context, name string) (checkpoint.FileWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return nil, err
	}
	if err := m.check("create", name); err != nil {
		return nil, err
	}
	return &memWriter{m: m, ctx: ctx, name: name}, nil
}

type memWriter struct {
	m      *Mem
	ctx    context.Context
	name   string
	buf    bytes.Buffer
	err    error
	closed bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("checkpointtest: write %s: %w", w.name, os.ErrClosed)
	}
	if w.err == nil {
		w.err = w.ctx.Err()
	}
	if w.err == nil {
		w.err = w.m.check("write", w.name)
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.buf.Write(p)
}

func (w *memWriter) Close() error {
	if w.closed {
		return fmt.Errorf("checkpointtest: close %s: %w", w.name, os.ErrClosed)
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.ctx.Err()
	}
	if err == nil {
		err = w.m.check("close", w.name)
	}
	if err != nil {
		return fmt.Errorf("checkpointtest: close %s: %w", w.name, err)
	}
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.put(w.name, bytes.Clone(w.buf.Bytes()))
	return nil
}

func (w *memWriter) Abort() error {
	w.closed = true
	return nil
}

// Open implements checkpoint.Storage.
func (m *Mem) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := m.get(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(f.data)), nil
}

// Stat implements checkpoint.Storage.
func (m *Mem) Stat(ctx context.Context, name string) (checkpoint.FileInfo, error) {
	f, err := m.get(ctx, "stat", name)
	if err != nil {
		return checkpoint.FileInfo{}, err
	}
	return checkpoint.FileInfo{Name: name, Size: int64(len(f.data)), ModTime: f.mod}, nil
}

func (m *Mem) get(ctx context.Context, op, name string) (memFile, error) {
	if err := ctx.Err(); err != nil {
		return memFile{}, err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return memFile{}, err
	}
	if err := m.check(op, name); err != nil {
		return memFile{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[name]
	if !ok {
		return memFile{}, fmt.Errorf("checkpointtest: %s %s: %w", op, name, fs.ErrNotExist)
	}
	return f, nil
}

// List implements checkpoint.Storage.
func (m *Mem) List(ctx context.Context, prefix string) ([]checkpoint.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := m.check("list", prefix); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []checkpoint.FileInfo
	for n, f := range m.files {
		if strings.HasPrefix(n, prefix) {
			out = append(out, checkpoint.FileInfo{Name: n, Size: int64(len(f.data)), ModTime: f.mod})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete implements checkpoint.Storage.
func (m *Mem) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkpoint.CheckName(name); err != nil {
		return err
	}
	if err := m.check("delete", name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, name)
	return nil
}
