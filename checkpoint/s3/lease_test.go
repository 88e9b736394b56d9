package s3_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/checkpoint/checkpointtest"
	s3store "github.com/runnel-io/runnel/checkpoint/s3"
)

func TestS3Lease(t *testing.T) {
	x := newS3Target(t)
	checkpointtest.LeaseSuite(t, func(t *testing.T) func() checkpoint.Storage {
		u := x.url(t)
		return func() checkpoint.Storage {
			st, err := schemes.Open(context.Background(), u)
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
	open := func() *s3store.Storage {
		t.Helper()
		st, err := schemes.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return st.(*s3store.Storage)
	}
	openTTL := func() *s3store.Storage {
		t.Helper()
		s := open()
		st, err := s3store.New(ctx, s.Bucket(), s.Prefix(), s3store.Options{LeaseTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if x.srv == nil {
		t.Skip("needs the local S3 server: the test writes the lease object behind the lease's back")
	}
	client := x.srv.Client()
	key := func(s *s3store.Storage) string { return s.Prefix() + checkpoint.LeaseFile }

	t.Run("LostWhenOverwritten", func(t *testing.T) {
		a := openTTL()
		l, err := a.Lease(ctx, checkpoint.NewHolder("a", "a", time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		// An unconditional write stands for another job that (wrongly) took the lease over.
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(a.Bucket()), Key: aws.String(key(a)),
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
		if _, err := client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(a.Bucket()), Key: aws.String(key(a))}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ExpiredTakenOver", func(t *testing.T) {
		a := openTTL()
		// A holder of another host that stopped renewing: its object ages.
		body := `{"holder":{"job":"gone","host":"elsewhere.example","pid":1},"ttlMillis":3000}`
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(a.Bucket()), Key: aws.String(key(a)),
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
