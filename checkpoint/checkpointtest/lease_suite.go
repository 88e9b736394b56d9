package checkpointtest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
)

// LeaseSuite runs the conformance tests of checkpoint.Leaser. open returns a new handle on one
// location, new for each subtest: calls with the same t must return handles on the same
// location (as two processes would open it), and a later subtest's location is fresh.
func LeaseSuite(t *testing.T, open func(t *testing.T) func() checkpoint.Storage) {
	ctx := context.Background()
	holder := func(job string) checkpoint.Holder {
		return checkpoint.NewHolder(job, checkpoint.NewRunID(), time.Now())
	}
	lease := func(t *testing.T, st checkpoint.Storage, job string) (checkpoint.Lease, error) {
		t.Helper()
		l, ok := st.(checkpoint.Leaser)
		if !ok {
			t.Fatalf("%T does not implement checkpoint.Leaser", st)
		}
		return l.Lease(ctx, holder(job))
	}
	mustLease := func(t *testing.T, st checkpoint.Storage, job string) checkpoint.Lease {
		t.Helper()
		l, err := lease(t, st, job)
		if err != nil {
			t.Fatalf("Lease(%s): %v", job, err)
		}
		t.Cleanup(func() { _ = l.Release(ctx) })
		return l
	}

	t.Run("Exclusive", func(t *testing.T) {
		handle := open(t)
		a, b := handle(), handle()
		first := mustLease(t, a, "first")
		_, err := lease(t, b, "second")
		if !errors.Is(err, checkpoint.ErrLeased) {
			t.Fatalf("second Lease: %v, want ErrLeased", err)
		}
		if !strings.Contains(err.Error(), `"first"`) {
			t.Errorf("the refusal %q does not name the holder job \"first\"", err)
		}
		select {
		case <-first.Done():
			t.Fatalf("the first lease ended: %v", first.Err())
		default:
		}
		if err := first.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		<-first.Done()
		if err := first.Err(); err != nil {
			t.Errorf("Err after Release = %v, want nil", err)
		}
		if err := first.Release(ctx); err != nil {
			t.Errorf("second Release: %v", err)
		}
		mustLease(t, b, "second")
	})

	t.Run("SameHandleExcludesToo", func(t *testing.T) {
		st := open(t)()
		mustLease(t, st, "first")
		if _, err := lease(t, st, "second"); !errors.Is(err, checkpoint.ErrLeased) {
			t.Fatalf("second Lease through the same handle: %v, want ErrLeased", err)
		}
	})

	t.Run("OneWinnerOfMany", func(t *testing.T) {
		handle := open(t)
		const n = 6
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			won    []checkpoint.Lease
			others []error
		)
		for i := range n {
			st := handle()
			wg.Go(func() {
				l, err := lease(t, st, "job"+string(rune('a'+i)))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, l)
				} else {
					others = append(others, err)
				}
			})
		}
		wg.Wait()
		for _, l := range won {
			_ = l.Release(ctx)
		}
		if len(won) != 1 {
			t.Fatalf("%d of %d concurrent Lease calls won, want 1 (refusals: %v)", len(won), n, others)
		}
		for _, err := range others {
			if !errors.Is(err, checkpoint.ErrLeased) {
				t.Errorf("a refused Lease failed with %v, want ErrLeased", err)
			}
		}
	})

	t.Run("OutsideSnapshots", func(t *testing.T) {
		st := open(t)()
		mustLease(t, st, "job")
		// The lease is a file of its own at the root: no snapshot listing ("chk-", "savepoint-",
		// "shared/") sees it.
		for _, prefix := range []string{"chk-", "savepoint-", "shared/"} {
			if files, err := st.List(ctx, prefix); err != nil || len(files) != 0 {
				t.Errorf("List(%q) with only a lease = %v, %v; want nothing", prefix, files, err)
			}
		}
	})
}
