package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// LeaseFile is the name, at the root of a checkpoint location, of the file that holds the
// location's lease: who runs on the location now.
const LeaseFile = "_lease"

// ErrLeased is wrapped by the error of Leaser.Lease when another job holds the location's
// lease; the message names the holder.
var ErrLeased = errors.New("checkpoint: location in use")

// ErrLeaseLost is wrapped by Lease.Err when a lease ended without Release: it could not be
// renewed in time, or another job took it over after it expired.
var ErrLeaseLost = errors.New("checkpoint: lease lost")

// Holder describes the job holding a location's lease, for the messages of the jobs it keeps
// out.
type Holder struct {
	// Job is the job's name.
	Job string `json:"job"`
	// Run is the ID of the job's run (NewRunID).
	Run string `json:"run"`
	// Host and PID are the machine and process the job runs in.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Since is when the lease was taken.
	Since time.Time `json:"since"`
}

// NewHolder returns the Holder of job's run in this process, since now.
func NewHolder(job, run string, now time.Time) Holder {
	host, _ := os.Hostname()
	return Holder{Job: job, Run: run, Host: host, PID: os.Getpid(), Since: now.UTC().Truncate(time.Second)}
}

// NewRunID returns a new random run ID: 12 hex digits.
func NewRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func (h Holder) String() string {
	if h.Job == "" && h.PID == 0 {
		return "another job"
	}
	s := fmt.Sprintf("job %q (run %s, pid %d on %s", h.Job, h.Run, h.PID, h.Host)
	if !h.Since.IsZero() {
		s += ", since " + h.Since.Format(time.RFC3339)
	}
	return s + ")"
}

// Leaser is the optional capability of a Storage to lease its location to one job at a time,
// so that two jobs never take checkpoints or commit output from the same location at once.
// Local (an flock(2) lock held by the process), S3 (a lease object written with conditional
// requests, renewed while held) and checkpointtest.Mem implement it.
type Leaser interface {
	// Lease takes the location's lease for holder. If another job holds it, Lease fails at
	// once with an error wrapping ErrLeased that names the holder. The lease lasts until
	// Release, the process ends, or it is lost (see Lease).
	Lease(ctx context.Context, holder Holder) (Lease, error)
}

// Lease is a lease taken with Leaser.Lease. Its methods are safe for concurrent use.
type Lease interface {
	// Done is closed when the lease ends: released, or lost. A job whose lease is lost must
	// stop at once, committing nothing more: another may have taken the location over.
	Done() <-chan struct{}
	// Err is nil while the lease is held and after Release; after a loss it wraps
	// ErrLeaseLost and says why.
	Err() error
	// Release gives the lease up, so another job can take it at once. Releasing a lost or
	// released lease does nothing and returns nil.
	Release(ctx context.Context) error
}

// LeaseState is the part of a Lease its implementations share: the end of the lease, once,
// with its reason. Embed a *LeaseState made by NewLeaseState to get Done and Err. Its methods
// are safe for concurrent use.
type LeaseState struct {
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  error
}

// NewLeaseState returns the state of a lease that is held.
func NewLeaseState() *LeaseState { return &LeaseState{done: make(chan struct{})} }

// Done implements Lease.
func (s *LeaseState) Done() <-chan struct{} { return s.done }

// Err implements Lease.
func (s *LeaseState) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// End ends the lease with err: nil for a release, an error wrapping ErrLeaseLost for a loss.
// Only the first call counts; End reports whether it was this one.
func (s *LeaseState) End(err error) bool {
	ended := false
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
		ended = true
	})
	return ended
}

// Ended reports whether the lease has ended.
func (s *LeaseState) Ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// HolderGone reports whether h was a process of this host that no longer exists (a job
// killed without releasing its lease): a lease it held may be taken over at once.
func HolderGone(h Holder) bool {
	host, _ := os.Hostname()
	return host != "" && h.Host == host && h.PID > 0 && !processAlive(h.PID)
}
