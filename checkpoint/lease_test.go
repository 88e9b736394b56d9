package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
)

func TestLocalLease(t *testing.T) {
	checkpointtest.LeaseSuite(t, func(t *testing.T) func() checkpoint.Storage {
		dir := t.TempDir()
		return func() checkpoint.Storage {
			l, err := checkpoint.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	})
}

// TestLocalLeaseEndsWithProcess checks that a lease held by a process that was killed is free
// at once: the kernel drops the flock lock with the process.
func TestLocalLeaseEndsWithProcess(t *testing.T) {
	dir := t.TempDir()
	if os.Getenv("RUNNEL_LEASE_CHILD") != "" {
		st, err := checkpoint.NewLocal(os.Getenv("RUNNEL_LEASE_CHILD"))
		if err != nil {
			os.Exit(3)
		}
		if _, err := st.Lease(context.Background(), checkpoint.NewHolder("child", "c", time.Now())); err != nil {
			os.Exit(4)
		}
		os.Stdout.WriteString("held\n")
		select {} // until killed
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLocalLeaseEndsWithProcess$")
	cmd.Env = append(os.Environ(), "RUNNEL_LEASE_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("child did not take the lease: %q, %v", buf, err)
	}
	st, err := checkpoint.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Lease(context.Background(), checkpoint.NewHolder("parent", "p", time.Now()))
	if !errors.Is(err, checkpoint.ErrLeased) || !strings.Contains(err.Error(), `"child"`) {
		t.Fatalf("Lease while the child holds it: %v, want ErrLeased naming job \"child\"", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := st.Lease(context.Background(), checkpoint.NewHolder("parent", "p", time.Now()))
	if err != nil {
		t.Fatalf("Lease after the child was killed: %v", err)
	}
	_ = l.Release(context.Background())
}
