package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/runnel-io/runnel/eventtime"
)

// FanOut configures enhanced fan-out: the source reads through a registered stream consumer,
// and the service pushes each shard's records to it over a SubscribeToShard subscription, with
// 2 MB/s per shard of its own instead of a share of the shard's polling limits.
type FanOut struct {
	// ConsumerName names the stream consumer the job reads through. The source registers it on
	// the stream, at the first subscription, if it is not registered yet and reuses it if it
	// is, so restarts and restored jobs keep one consumer. It never deregisters it on its own;
	// see Source.DeregisterConsumer. Required unless ConsumerARN is set.
	ConsumerName string
	// ConsumerARN names a consumer registered beforehand (by Terraform, say); the source then
	// registers nothing and needs no DescribeStreamSummary or RegisterStreamConsumer
	// permission.
	ConsumerARN string
	// RegisterTimeout bounds the wait for a consumer to become ACTIVE after it was registered
	// (tens of seconds on AWS). Default 2m.
	RegisterTimeout time.Duration
}

// FanOutAPI is what enhanced fan-out needs of the client beyond SourceAPI; *kinesis.Client has
// it. DeregisterStreamConsumer is called only by Source.DeregisterConsumer.
type FanOutAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, opts ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, opts ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

// consumer returns the ARN of the fan-out consumer, registering it and waiting until it is
// ACTIVE the first time. The readers of a Source share one ARN; a failure is not kept, so the
// next subscription attempt asks again.
func (s *Source) consumer(ctx context.Context, clock eventtime.Clock, log *slog.Logger) (string, error) {
	fo := s.cfg.FanOut
	if fo.ConsumerARN != "" {
		return fo.ConsumerARN, nil
	}
	s.consumerMu.Lock()
	defer s.consumerMu.Unlock()
	if s.consumerARN != "" {
		return s.consumerARN, nil
	}
	api := s.api.(FanOutAPI)
	sum, err := api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &s.cfg.Stream})
	if err != nil {
		return "", fmt.Errorf("DescribeStreamSummary: %w", err)
	}
	if sum.StreamDescriptionSummary == nil || sum.StreamDescriptionSummary.StreamARN == nil {
		return "", errors.New("DescribeStreamSummary: no stream ARN in the response")
	}
	streamARN := sum.StreamDescriptionSummary.StreamARN
	deadline := clock.Now().Add(fo.RegisterTimeout)
	asked := false // RegisterStreamConsumer was called
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		d, err := api.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: streamARN, ConsumerName: &fo.ConsumerName})
		var notFound *types.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound) && !asked:
			_, err := api.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: &fo.ConsumerName})
			var inUse *types.ResourceInUseException
			switch {
			case errors.As(err, &inUse): // another process registered it meanwhile: not ours
			case err != nil:
				return "", fmt.Errorf("RegisterStreamConsumer %s: %w", fo.ConsumerName, err)
			default:
				s.registered, s.streamARN = true, *streamARN
				log.Info("kinesis: registered an enhanced fan-out consumer", "stream", s.cfg.Stream, "consumer", fo.ConsumerName)
			}
			asked = true
			continue
		case err != nil && !errors.As(err, &notFound):
			return "", fmt.Errorf("DescribeStreamConsumer %s: %w", fo.ConsumerName, err)
		case err == nil && d.ConsumerDescription != nil && d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive:
			s.consumerARN = *d.ConsumerDescription.ConsumerARN
			return s.consumerARN, nil
		}
		status := "not found"
		if err == nil && d.ConsumerDescription != nil {
			status = string(d.ConsumerDescription.ConsumerStatus)
		}
		if clock.Now().After(deadline) {
			return "", fmt.Errorf("consumer %s is still %s after %v (FanOut.RegisterTimeout)", fo.ConsumerName, status, fo.RegisterTimeout)
		}
		t := clock.NewTimer(wait)
		select {
		case <-t.Chan():
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
	}
}

// DeregisterConsumer deregisters the enhanced fan-out consumer if this Source registered it (see
// FanOut), and does nothing if it did not: without FanOut, with FanOut.ConsumerARN, or when the
// consumer was registered already when the source first asked for it (by an earlier run of the
// application, say, or another process reading through it). Call it once the job has ended for
// good, after its Execute returned: readers still running would register the consumer again.
// It returns the error of DeregisterStreamConsumer; a consumer already gone is not an error. It
// is safe for concurrent use.
func (s *Source) DeregisterConsumer(ctx context.Context) error {
	if s.cfg.FanOut == nil {
		return nil
	}
	s.consumerMu.Lock()
	defer s.consumerMu.Unlock()
	if !s.registered {
		return nil
	}
	name := s.cfg.FanOut.ConsumerName
	_, err := s.api.(FanOutAPI).DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: &s.streamARN, ConsumerName: &name})
	var notFound *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("kinesis: stream %s: DeregisterStreamConsumer %s: %w", s.cfg.Stream, name, err)
	}
	s.registered, s.consumerARN = false, ""
	return nil
}

// forgetConsumer drops the cached consumer ARN if it is arn.
func (s *Source) forgetConsumer(arn string) {
	s.consumerMu.Lock()
	defer s.consumerMu.Unlock()
	if s.consumerARN == arn {
		s.consumerARN = ""
	}
}

// subscribe reads the shard through enhanced fan-out until it ends (nil) or the retries run
// out (the error). Each subscription lasts until the service ends it (after five minutes) or
// fails; the next one starts after the last continuation sequence number, so none is read
// twice.
func (f *fetcher) subscribe(ctx context.Context) error {
	cfg := &f.src.cfg
	api := f.src.api.(FanOutAPI)
	failures := 0
	fail := func(op string, err error) (stop bool, _ error) {
		if ctx.Err() != nil {
			return true, nil
		}
		if failures++; failures > cfg.MaxRetries || !retryable(err) {
			return true, fmt.Errorf("kinesis: stream %s, shard %s: %s (%d attempts): %w", cfg.Stream, f.shard, op, failures, err)
		}
		f.retrying(op, failures, err)
		return !f.sleep(ctx, backoff(cfg.BaseBackoff, cfg.MaxBackoff, failures)), nil
	}
	for {
		arn, err := f.src.consumer(ctx, f.clock, f.log)
		if err != nil {
			if stop, err := fail("getting the fan-out consumer", err); stop {
				return err
			}
			continue
		}
		in := &kinesis.SubscribeToShardInput{ConsumerARN: &arn, ShardId: &f.shard, StartingPosition: f.startingPosition()}
		out, err := api.SubscribeToShard(ctx, in, ownProtocol)
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			f.src.forgetConsumer(arn) // deleted: a restart registers it again
		}
		if err != nil {
			if stop, err := fail("SubscribeToShard", err); stop {
				return err
			}
			continue
		}
		end, events, err := f.consume(ctx, out.GetStream(), &failures)
		if end || ctx.Err() != nil {
			return nil
		}
		if err == nil && events == 0 {
			// Nothing came (an idle shard, or a server that ends subscriptions at once): wait
			// before the next, so as not to spin; it is not a failure.
			if !f.sleep(ctx, cfg.BaseBackoff) {
				return nil
			}
			continue
		}
		if err != nil {
			if stop, err := fail("reading a SubscribeToShard subscription", err); stop {
				return err
			}
		}
	}
}

// ownProtocol gives one SubscribeToShard call a protocol of its own. smithy-go v1.28.9's
// event-stream codec keeps its decoding buffer in the protocol, which every call of a client
// shares, so concurrent subscriptions through one client write the same buffer: the race
// detector reports it, and events could be decoded from another subscription's bytes.
func ownProtocol(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) }

// consume hands the records of one subscription to the reader. It returns end when the shard
// was read to its end, how many events came, and the subscription's error, if it failed rather
// than ended.
func (f *fetcher) consume(ctx context.Context, es *kinesis.SubscribeToShardEventStream, failures *int) (end bool, events int, err error) {
	defer es.Close()
	for ev := range es.Events() {
		e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			continue // an event type newer than this SDK
		}
		events++
		*failures = 0
		v := e.Value
		if v.MillisBehindLatest != nil {
			f.lag.set(f.shard, *v.MillisBehindLatest, false)
		}
		// A closed shard's last event has no continuation: its records are the shard's last.
		end = v.ContinuationSequenceNumber == nil
		if v.ContinuationSequenceNumber != nil {
			f.after = *v.ContinuationSequenceNumber
		} else if n := len(v.Records); n > 0 && v.Records[n-1].SequenceNumber != nil {
			f.after = *v.Records[n-1].SequenceNumber
		}
		if len(v.Records) > 0 || end {
			select {
			case f.out <- fetched{records: v.Records, end: end}:
				f.signal()
			case <-ctx.Done():
				return false, events, nil
			}
		}
		if end {
			return true, events, nil
		}
	}
	return false, events, es.Err()
}

// startingPosition is where the next subscription starts: after the last continuation or
// record, or at the split's start position. A shard started at LATEST is subscribed at LATEST
// once, and the time of that (by the reader's clock) is kept: should the subscription end
// before an event gave a continuation, the next one starts AT_TIMESTAMP of it, so that the
// records put in between are read.
func (f *fetcher) startingPosition() *types.StartingPosition {
	switch {
	case f.after != "":
		return &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: &f.after}
	case f.start.Kind == Latest && f.latestAt.IsZero():
		f.latestAt = f.clock.Now()
		return &types.StartingPosition{Type: types.ShardIteratorTypeLatest}
	case f.start.Kind == Latest:
		ts := f.latestAt
		return &types.StartingPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: &ts}
	case f.start.Kind == AtTimestamp:
		ts := f.start.Timestamp
		return &types.StartingPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: &ts}
	}
	return &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
}
