package checkpoint_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/internal/checkpoint"
	"github.com/runnel-io/runnel/internal/checkpoint/checkpointtest"
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

func TestS3Lease(t *testing.T) {
	x := newS3Target(t)
	checkpointtest.LeaseSuite(t, func(t *testing.T) func() checkpoint.Storage {
		u := x.url(t)
		return func() checkpoint.Storage {
			st, err := checkpoint.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	})
}

// TestS3LeaseLossAndTakeover checks the time-based half of S3 leases with a short TTL: a holder
// whose lease object another writer replaced learns it lost the lease at its next renewal; a
// lease nobody renews can be taken over once its TTL passed, and not before; and the lease of
// a process of this host that no longer exists can be taken over at once.
func TestS3LeaseLossAndTakeover(t *testing.T) {
	x := newS3Target(t)
	ctx := context.Background()
	const ttl = 3 * time.Second
	u := x.url(t)
	open := func() *checkpoint.S3 {
		t.Helper()
		st, err := checkpoint.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return st.(*checkpoint.S3)
	}
	openTTL := func() *checkpoint.S3 {
		t.Helper()
		s := open()
		st, err := checkpoint.NewS3(ctx, s.Bucket(), s.Prefix(), checkpoint.S3Options{LeaseTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if x.srv == nil {
		t.Skip("needs the local S3 server: the test writes the lease object behind the lease's back")
	}
	client := x.srv.Client()
	key := func(s *checkpoint.S3) string { return s.Prefix() + checkpoint.LeaseFile }

	t.Run("LostWhenOverwritten", func(t *testing.T) {
		a := openTTL()
		l, err := a.Lease(ctx, checkpoint.NewHolder("a", "a", time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		// An unconditional write stands for another job that (wrongly) took the lease over.
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.Bucket()), Key: aws.String(key(a)),
			Body: strings.NewReader(`{"holder":{"job":"intruder"},"ttlMillis":3000}`)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-l.Done():
		case <-time.After(3 * ttl):
			t.Fatal("the lease was not lost within three TTLs of being overwritten")
		}
		if err := l.Err(); !errors.Is(err, checkpoint.ErrLeaseLost) {
			t.Fatalf("Err = %v, want ErrLeaseLost", err)
		}
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket()), Key: aws.String(key(a))}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ExpiredTakenOver", func(t *testing.T) {
		a := openTTL()
		// A holder of another host that stopped renewing: its object ages.
		body := `{"holder":{"job":"gone","host":"elsewhere.example","pid":1},"ttlMillis":3000}`
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.Bucket()), Key: aws.String(key(a)),
			Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		_, err := a.Lease(ctx, checkpoint.NewHolder("b", "b", time.Now()))
		if !errors.Is(err, checkpoint.ErrLeased) || !strings.Contains(err.Error(), `"gone"`) {
			t.Fatalf("Lease of a fresh lease = %v, want ErrLeased naming \"gone\"", err)
		}
		var l checkpoint.Lease
		for l == nil {
			if l, err = a.Lease(ctx, checkpoint.NewHolder("b", "b", time.Now())); err != nil && !errors.Is(err, checkpoint.ErrLeased) {
				t.Fatal(err)
			}
			if time.Since(written) > 4*ttl {
				t.Fatalf("the expired lease was not taken over within 4 TTLs: %v", err)
			}
			if l == nil {
				time.Sleep(200 * time.Millisecond) // polling a server-side expiry: nothing to wait on
			}
		}
		if age := time.Since(written); age < ttl {
			t.Errorf("the lease was taken over %v after its last write, before its TTL of %v", age, ttl)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		// Released: free at once.
		l2, err := a.Lease(ctx, checkpoint.NewHolder("c", "c", time.Now()))
		if err != nil {
			t.Fatalf("Lease after Release: %v", err)
		}
		_ = l2.Release(ctx)
	})

	t.Run("DeadProcessOfThisHost", func(t *testing.T) {
		a := openTTL() // written now: only the dead process makes it free at once
		dead := exec.Command("true")
		if err := dead.Run(); err != nil {
			t.Skipf("cannot run true: %v", err)
		}
		host, _ := os.Hostname()
		h := checkpoint.Holder{Job: "killed", Run: "k", Host: host, PID: dead.Process.Pid}
		l, err := a.Lease(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		_ = l // left unreleased, as a SIGKILL would; stop its renewals by losing it below
		b := open()
		l2, err := b.Lease(ctx, checkpoint.NewHolder("next", "n", time.Now()))
		if err != nil {
			t.Fatalf("Lease of a dead local process's lease: %v", err)
		}
		defer l2.Release(ctx)
		select {
		case <-l.Done():
		case <-time.After(3 * ttl):
			t.Fatal("the dead holder's lease object was taken over but its handle never heard")
		}
	})
}
