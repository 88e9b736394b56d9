package checkpointtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/runnel-io/runnel/checkpoint"
)

var _ checkpoint.Leaser = (*Mem)(nil)

// Lease implements checkpoint.Leaser: one holder at a time, in memory. The "lease" operation
// goes through the injected fault first (the name is checkpoint.LeaseFile).
func (m *Mem) Lease(ctx context.Context, holder checkpoint.Holder) (checkpoint.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := m.check("lease", checkpoint.LeaseFile); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease != nil {
		return nil, fmt.Errorf("%w: the in-memory storage is held by %s", checkpoint.ErrLeased, m.lease.holder)
	}
	m.lease = &memLease{m: m, holder: holder, done: make(chan struct{})}
	return m.lease, nil
}

// LoseLease ends the lease held now, if any, as lost: what an S3 lease does when it cannot be
// renewed in time. It reports whether a lease was held.
func (m *Mem) LoseLease() bool {
	m.mu.Lock()
	l := m.lease
	m.lease = nil
	m.mu.Unlock()
	if l == nil {
		return false
	}
	l.end(fmt.Errorf("%w: checkpointtest: taken away by the test", checkpoint.ErrLeaseLost))
	return true
}

// LeaseHolder returns the holder of the lease held now, and whether one is.
func (m *Mem) LeaseHolder() (checkpoint.Holder, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease == nil {
		return checkpoint.Holder{}, false
	}
	return m.lease.holder, true
}

type memLease struct {
	m      *Mem
	holder checkpoint.Holder
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	err    error
}

func (l *memLease) Done() <-chan struct{} { return l.done }

func (l *memLease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *memLease) end(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.done)
	})
}

func (l *memLease) Release(context.Context) error {
	l.m.mu.Lock()
	if l.m.lease == l {
		l.m.lease = nil
	}
	l.m.mu.Unlock()
	l.end(nil)
	return nil
}
