//go:build !unix

package checkpoint

import (
	"context"
	"errors"
	"fmt"
)

var _ Leaser = (*Local)(nil)

// Lease implements Leaser where flock(2) is missing: it fails with an error wrapping
// errors.ErrUnsupported, and the runtime runs without a lease, warning that nothing keeps a
// second job off the location.
func (l *Local) Lease(context.Context, Holder) (Lease, error) {
	return nil, fmt.Errorf("checkpoint: leases of local directories need flock(2): %w", errors.ErrUnsupported)
}

// processAlive reports true: without kill(2) a holder's process cannot be looked at.
func processAlive(int) bool { return true }
