//go:build unix

package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

var _ Leaser = (*Local)(nil)

// Lease implements Leaser with an exclusive flock(2) lock on the file LeaseFile at the root,
// held by an open file of this process: the kernel releases it when the process ends, however
// it ends, so a crashed job never keeps the location. The file also holds the holder's
// description, for the message of a job that is refused. A Local lease is never lost.
//
// flock locks are reliable on local file systems; on network file systems (NFS, SMB) they may
// not exclude processes of other machines.
func (l *Local) Lease(ctx context.Context, holder Holder) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := l.path(LeaseFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: taking the lease of %s: %w", l, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h Holder
			if data, rerr := io.ReadAll(io.LimitReader(f, 64<<10)); rerr == nil {
				_ = json.Unmarshal(data, &h) // a holder still writing its description is "another job"
			}
			return nil, fmt.Errorf("%w: %s is held by %s", ErrLeased, l, h)
		}
		return nil, fmt.Errorf("checkpoint: taking the lease of %s: %w", l, err)
	}
	data, _ := json.Marshal(holder)
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(append(data, '\n'), 0)
	}
	if err != nil {
		f.Close() // releases the lock
		return nil, fmt.Errorf("checkpoint: taking the lease of %s: writing %s: %w", l, LeaseFile, err)
	}
	return &localLease{LeaseState: NewLeaseState(), f: f}, nil
}

type localLease struct {
	*LeaseState
	f *os.File
}

func (ll *localLease) Release(context.Context) error {
	if !ll.End(nil) {
		return nil
	}
	// Empty the description first: while the lock is free nobody holds the location.
	_ = ll.f.Truncate(0)
	return ll.f.Close()
}

// processAlive reports whether the process pid exists on this host.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
