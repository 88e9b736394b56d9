package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/awsconn"
	"github.com/runnel-io/runnel/checkpoint"
)

// DefaultLeaseTTL is Options.LeaseTTL when it is zero.
const DefaultLeaseTTL = 30 * time.Second

var _ checkpoint.Leaser = (*Storage)(nil)

// s3LeaseBody is the content of the lease object.
type s3LeaseBody struct {
	Holder checkpoint.Holder `json:"holder"`
	// TTLMillis is how long the lease lasts after the object was last written.
	TTLMillis int64 `json:"ttlMillis"`
	// Released says the holder gave the lease up: anyone may take it.
	Released bool `json:"released,omitempty"`
}

// Lease implements checkpoint.Leaser with the object _lease (checkpoint.LeaseFile) below the prefix, written only with S3's
// conditional requests: taken with If-None-Match: * (it must not exist), renewed every third
// of Options.LeaseTTL with If-Match on the ETag of the holder's last write, released by
// marking it released. Another job may take the lease over when it is released or has not
// been renewed for its TTL, judged by the server's clock (the object's Last-Modified against
// the Date of the answer), so the clocks of the machines do not matter; it may also take it
// over from a process of the same host that no longer exists (a job killed with SIGKILL), so
// a restarted job need not wait for the TTL.
//
// The holder counts the lease lost when a renewal is refused (someone took it over) or none
// has succeeded for five sixths of the TTL, measured from when it sent its last successful
// renewal: before any other job can see it expired.
func (s *Storage) Lease(ctx context.Context, holder checkpoint.Holder) (checkpoint.Lease, error) {
	ttl := s.leaseTTL
	body, _ := json.Marshal(s3LeaseBody{Holder: holder, TTLMillis: ttl.Milliseconds()})
	const attempts = 5
	for range attempts {
		sent := time.Now()
		etag, err := s.putLease(ctx, body, "", true)
		if err == nil {
			return s.startLease(holder, ttl, etag, sent), nil
		}
		if !isPreconditionFailed(err) {
			return nil, fmt.Errorf("checkpoint: taking the lease of %s: %w", s.where(), err)
		}
		cur, err := s.readLease(ctx)
		if err != nil {
			if awsconn.IsNotFound(err) {
				continue // released and deleted in between: try again
			}
			return nil, fmt.Errorf("checkpoint: taking the lease of %s: %w", s.where(), err)
		}
		if !cur.free() {
			return nil, fmt.Errorf("%w: %s is held by %s (for %v more unless renewed)",
				checkpoint.ErrLeased, s.where(), cur.body.Holder, cur.remaining().Round(time.Second))
		}
		sent = time.Now()
		etag, err = s.putLease(ctx, body, cur.etag, false)
		if err == nil {
			return s.startLease(holder, ttl, etag, sent), nil
		}
		if !isPreconditionFailed(err) {
			return nil, fmt.Errorf("checkpoint: taking over the lease of %s: %w", s.where(), err)
		}
		// Someone else wrote it in between: look again.
	}
	return nil, fmt.Errorf("%w: %s: the lease changed hands %d times while taking it", checkpoint.ErrLeased, s.where(), attempts)
}

// currentLease is the lease object as read.
type currentLease struct {
	body       s3LeaseBody
	etag       string
	age        time.Duration // since it was last written, by the server's clock
	sameHostOK bool          // its holder was a process of this host that no longer exists
}

func (c *currentLease) ttl() time.Duration { return time.Duration(c.body.TTLMillis) * time.Millisecond }

// free reports whether the lease may be taken over. Last-Modified has whole seconds, so an
// expiry counts only a second after the TTL.
func (c *currentLease) free() bool {
	return c.body.Released || c.sameHostOK || c.age > c.ttl()+time.Second
}

func (c *currentLease) remaining() time.Duration { return max(0, c.ttl()+time.Second-c.age) }

func (s *Storage) readLease(ctx context.Context) (*currentLease, error) {
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key(checkpoint.LeaseFile))})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	c := &currentLease{etag: aws.ToString(out.ETag)}
	if err := json.Unmarshal(data, &c.body); err != nil || c.body.TTLMillis <= 0 {
		// Not a lease we wrote: treat it as expired a TTL after it was written.
		c.body = s3LeaseBody{TTLMillis: s.leaseTTL.Milliseconds()}
	}
	now, ok := awsmiddleware.GetServerTime(out.ResultMetadata)
	if !ok {
		now = time.Now()
	}
	if out.LastModified != nil {
		c.age = now.Sub(*out.LastModified)
	}
	c.sameHostOK = checkpoint.HolderGone(c.body.Holder)
	return c, nil
}

// putLease writes the lease object: if create, only if it does not exist, else only if its
// ETag is etag. It returns the new ETag.
func (s *Storage) putLease(ctx context.Context, body []byte, etag string, create bool) (string, error) {
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.key(checkpoint.LeaseFile)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if create {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// isPreconditionFailed reports S3's refusal of a conditional write: 412 Precondition Failed,
// or 409 ConditionalRequestConflict (a concurrent conditional write to the same key).
func isPreconditionFailed(err error) bool {
	if awsconn.IsCode(err, "PreconditionFailed", "ConditionalRequestConflict") {
		return true
	}
	st := awsconn.StatusCode(err)
	return st == http.StatusPreconditionFailed || st == http.StatusConflict
}

// s3Lease is a held S3 lease and its renewing goroutine.
type s3Lease struct {
	*checkpoint.LeaseState
	s       *Storage
	holder  checkpoint.Holder
	ttl     time.Duration
	stop    context.CancelFunc
	stopped chan struct{} // closed when the renewing goroutine ended
	etag    string        // owned by the renewing goroutine until stopped is closed
}

func (s *Storage) startLease(h checkpoint.Holder, ttl time.Duration, etag string, sent time.Time) *s3Lease {
	ctx, stop := context.WithCancel(context.Background())
	l := &s3Lease{LeaseState: checkpoint.NewLeaseState(), s: s, holder: h, ttl: ttl, stop: stop, stopped: make(chan struct{}), etag: etag}
	go l.renew(ctx, sent)
	return l
}

// renew renews the lease every third of its TTL until it is released or lost.
func (l *s3Lease) renew(ctx context.Context, lastOK time.Time) {
	defer close(l.stopped)
	body, _ := json.Marshal(s3LeaseBody{Holder: l.holder, TTLMillis: l.ttl.Milliseconds()})
	deadline := l.ttl - l.ttl/6
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, lastOK.Add(deadline))
		etag, err := l.s.putLease(rctx, body, l.etag, false)
		cancel()
		switch {
		case err == nil:
			l.etag, lastOK = etag, sent
		case ctx.Err() != nil:
			return
		case isPreconditionFailed(err):
			l.End(fmt.Errorf("%w: %s: another job took the lease over (it was not renewed in time)", checkpoint.ErrLeaseLost, l.s.where()))
			return
		case time.Since(lastOK) >= deadline:
			l.End(fmt.Errorf("%w: %s: could not renew it for %v: %w", checkpoint.ErrLeaseLost, l.s.where(), time.Since(lastOK).Round(time.Millisecond), err))
			return
		}
	}
}

func (l *s3Lease) Release(ctx context.Context) error {
	if l.Ended() {
		return nil
	}
	l.stop()
	<-l.stopped
	if !l.End(nil) {
		return nil // lost while stopping
	}
	body, _ := json.Marshal(s3LeaseBody{Holder: l.holder, TTLMillis: l.ttl.Milliseconds(), Released: true})
	if _, err := l.s.putLease(ctx, body, l.etag, false); err != nil {
		return fmt.Errorf("checkpoint: releasing the lease of %s: %w", l.s.where(), err)
	}
	return nil
}
