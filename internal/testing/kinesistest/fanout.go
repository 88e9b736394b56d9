package kinesistest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/eventstream"
)

// FanOut is an HTTP server in front of a kinesalite that adds what kinesalite lacks for
// enhanced fan-out: the consumer calls (RegisterStreamConsumer, DescribeStreamConsumer,
// ListStreamConsumers, DeregisterStreamConsumer) kept in memory, and SubscribeToShard, served as
// Kinesis serves it, an AWS event stream of SubscribeToShardEvent messages, made from GetRecords
// calls to the kinesalite behind it. Every other call is passed on unchanged, so clients talk
// to it as to Kinesis Data Streams and the SDK's own event-stream decoding is what the tests
// exercise. Make one with StartFanOut; it is safe for concurrent use and closed in t.Cleanup.
type FanOut struct {
	// Endpoint is the base URL clients use, "http://127.0.0.1:PORT".
	Endpoint string

	target *url.URL
	proxy  *httputil.ReverseProxy
	http   *http.Client

	mu struct {
		sync.Mutex
		consumers map[string]*consumer // by ARN
		active    map[string]bool      // open subscriptions, by consumer ARN + shard
		fail      []string             // error codes the next SubscribeToShard calls fail with
		length    time.Duration        // of a subscription
		activate  time.Duration        // CREATING → ACTIVE
		subscribe int                  // SubscribeToShard calls answered with a stream
		behind    int64                // MillisBehindLatest of events with records; 0: kinesalite's
		perEvent  int                  // most records in one event
	}
}

type consumer struct {
	name, arn, stream, streamARN string
	created                      time.Time
}

// idleEvery is how often a subscription to a shard with no new records sends an event without
// records. Kinesis sends such events too, so that a consumer learns its continuation and that it
// caught up (MillisBehindLatest 0).
const idleEvery = time.Second

// StartFanOut starts a FanOut in front of the kinesalite at s.Endpoint. Subscriptions last 5
// minutes, consumers take 100 ms to become ACTIVE and events carry up to 1000 records unless
// set otherwise.
func StartFanOut(t testing.TB, s *Server) *FanOut {
	t.Helper()
	if s.External {
		t.Skip("kinesistest: the fan-out emulation runs in front of a kinesalite of the test's own")
	}
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := &FanOut{target: target, proxy: httputil.NewSingleHostReverseProxy(target),
		http: &http.Client{Timeout: 10 * time.Second}}
	f.mu.consumers = map[string]*consumer{}
	f.mu.active = map[string]bool{}
	f.mu.length = 5 * time.Minute
	f.mu.activate = 100 * time.Millisecond
	f.mu.perEvent = 1000
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.Endpoint = srv.URL
	return f
}

// SetSubscriptionLength sets how long later subscriptions last before the server ends them.
func (f *FanOut) SetSubscriptionLength(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.length = d
}

// SetMillisBehindLatest makes later events that carry records report ms as their
// MillisBehindLatest instead of kinesalite's figure, which is always 0; events without records
// still report 0. It stands for a consumer behind the tip of a busy shard.
func (f *FanOut) SetMillisBehindLatest(ms int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.behind = ms
}

// SetEventRecords sets the most records one event of a later subscription carries (the Limit of
// the GetRecords calls the events are made of), from 1 to 10000.
func (f *FanOut) SetEventRecords(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.perEvent = min(max(n, 1), 10000)
}

// FailSubscribe makes the next len(codes) SubscribeToShard calls fail with these error codes
// ("ResourceInUseException", "LimitExceededException", ...), in order, in place of those of an
// earlier FailSubscribe not used yet.
func (f *FanOut) FailSubscribe(codes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.fail = append([]string(nil), codes...)
}

// Subscriptions returns how many subscriptions the server has opened: answered with an event
// stream, positioned in the shard.
func (f *FanOut) Subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.subscribe
}

// Consumers returns the names of the registered consumers.
func (f *FanOut) Consumers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.mu.consumers {
		out = append(out, c.name)
	}
	return out
}

// ServeHTTP answers the fan-out calls and passes the others on.
func (f *FanOut) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_20131202.")
	var handle func(http.ResponseWriter, *http.Request, []byte)
	switch op {
	case "RegisterStreamConsumer":
		handle = f.register
	case "DescribeStreamConsumer":
		handle = f.describe
	case "ListStreamConsumers":
		handle = f.list
	case "DeregisterStreamConsumer":
		handle = f.deregister
	case "SubscribeToShard":
		handle = f.subscribe
	default:
		f.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	handle(w, r, body)
}

// apiError writes an error as the JSON protocol does.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

// status is c's status now.
func (f *FanOut) status(c *consumer) string {
	if time.Since(c.created) < f.mu.activate {
		return "CREATING"
	}
	return "ACTIVE"
}

func (f *FanOut) description(c *consumer) map[string]any {
	return map[string]any{"ConsumerName": c.name, "ConsumerARN": c.arn, "ConsumerStatus": f.status(c),
		"ConsumerCreationTimestamp": float64(c.created.UnixMilli()) / 1000, "StreamARN": c.streamARN}
}

// streamName returns the stream name of a stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).
func streamName(arn string) string {
	_, name, _ := strings.Cut(arn, ":stream/")
	name, _, _ = strings.Cut(name, "/")
	return name
}

func (f *FanOut) register(w http.ResponseWriter, _ *http.Request, body []byte) {
	var in struct{ StreamARN, ConsumerName string }
	if err := json.Unmarshal(body, &in); err != nil || in.StreamARN == "" || in.ConsumerName == "" {
		apiError(w, http.StatusBadRequest, "ValidationException", "StreamARN and ConsumerName are required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.mu.consumers {
		if c.streamARN == in.StreamARN && c.name == in.ConsumerName {
			apiError(w, http.StatusBadRequest, "ResourceInUseException", "Consumer "+c.arn+" exists")
			return
		}
	}
	now := time.Now()
	c := &consumer{name: in.ConsumerName, stream: streamName(in.StreamARN), streamARN: in.StreamARN, created: now,
		arn: fmt.Sprintf("%s/consumer/%s:%d", in.StreamARN, in.ConsumerName, now.Unix())}
	f.mu.consumers[c.arn] = c
	d := f.description(c)
	delete(d, "StreamARN")
	reply(w, map[string]any{"Consumer": d})
}

// find returns the consumer an input names, by ARN or by stream ARN and name.
func (f *FanOut) find(body []byte) *consumer {
	var in struct{ StreamARN, ConsumerName, ConsumerARN string }
	if json.Unmarshal(body, &in) != nil {
		return nil
	}
	if in.ConsumerARN != "" {
		return f.mu.consumers[in.ConsumerARN]
	}
	for _, c := range f.mu.consumers {
		if c.streamARN == in.StreamARN && c.name == in.ConsumerName {
			return c
		}
	}
	return nil
}

func (f *FanOut) describe(w http.ResponseWriter, _ *http.Request, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(body)
	if c == nil {
		apiError(w, http.StatusBadRequest, "ResourceNotFoundException", "Consumer not found")
		return
	}
	reply(w, map[string]any{"ConsumerDescription": f.description(c)})
}

func (f *FanOut) list(w http.ResponseWriter, _ *http.Request, body []byte) {
	var in struct{ StreamARN string }
	_ = json.Unmarshal(body, &in)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for _, c := range f.mu.consumers {
		if c.streamARN == in.StreamARN {
			d := f.description(c)
			delete(d, "StreamARN")
			out = append(out, d)
		}
	}
	reply(w, map[string]any{"Consumers": out})
}

func (f *FanOut) deregister(w http.ResponseWriter, _ *http.Request, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(body)
	if c == nil {
		apiError(w, http.StatusBadRequest, "ResourceNotFoundException", "Consumer not found")
		return
	}
	delete(f.mu.consumers, c.arn)
	reply(w, map[string]any{})
}

// subscribe serves SubscribeToShard: an initial-response event, then a SubscribeToShardEvent
// for each GetRecords call that found records, for the end of a closed shard (with its
// ChildShards and no continuation), and, once a continuation is known, for a call that found
// none after one that found some and every idleEvery while the shard has none, until the
// subscription's length is up or the client goes away. With no continuation known (a start
// at LATEST, or an empty shard) it sends nothing until records come: kinesalite gives no
// sequence number to continue from.
func (f *FanOut) subscribe(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ConsumerARN, ShardId string
		StartingPosition     struct {
			Type, SequenceNumber string
			Timestamp            *float64
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	f.mu.Lock()
	c := f.mu.consumers[in.ConsumerARN]
	key := in.ConsumerARN + "|" + in.ShardId
	var failWith string
	switch {
	case len(f.mu.fail) > 0:
		failWith, f.mu.fail = f.mu.fail[0], f.mu.fail[1:]
	case c == nil:
		failWith = "ResourceNotFoundException"
	case f.status(c) != "ACTIVE":
		failWith = "ResourceInUseException"
	case f.mu.active[key]:
		failWith = "ResourceInUseException" // one subscription per shard and consumer at a time
	}
	if failWith != "" {
		f.mu.Unlock()
		apiError(w, http.StatusBadRequest, failWith, "SubscribeToShard of "+in.ShardId+" refused by the test server")
		return
	}
	f.mu.active[key] = true
	length, behind, perEvent := f.mu.length, f.mu.behind, f.mu.perEvent
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.mu.active, key)
		f.mu.Unlock()
	}()

	ctx := r.Context()
	iterIn := map[string]any{"StreamName": c.stream, "ShardId": in.ShardId, "ShardIteratorType": in.StartingPosition.Type}
	if in.StartingPosition.SequenceNumber != "" {
		iterIn["StartingSequenceNumber"] = in.StartingPosition.SequenceNumber
	}
	if in.StartingPosition.Timestamp != nil {
		iterIn["Timestamp"] = *in.StartingPosition.Timestamp
	}
	var iter struct{ ShardIterator string }
	if code, msg := f.call(ctx, r, "GetShardIterator", iterIn, &iter); code != "" {
		apiError(w, http.StatusBadRequest, code, msg)
		return
	}
	f.mu.Lock()
	f.mu.subscribe++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	enc := eventstream.NewEncoder() // an Encoder is not safe for concurrent use
	if event(enc, w, "initial-response", []byte("{}")) != nil {
		return
	}
	flush()
	deadline := time.Now().Add(length)
	continuation := in.StartingPosition.SequenceNumber
	var lastEvent time.Time // zero: the first idle call sends one at once, as Kinesis does
	found := false          // the last call found records
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var out struct {
			Records            []json.RawMessage
			NextShardIterator  *string
			MillisBehindLatest int64
		}
		if code, msg := f.call(ctx, r, "GetRecords", map[string]any{"ShardIterator": iter.ShardIterator, "Limit": perEvent}, &out); code != "" {
			exception(enc, w, code, msg)
			return
		}
		if n := len(out.Records); n > 0 {
			var last struct{ SequenceNumber string }
			_ = json.Unmarshal(out.Records[n-1], &last)
			continuation = last.SequenceNumber
		}
		ev := map[string]any{"Records": out.Records, "MillisBehindLatest": out.MillisBehindLatest}
		if len(out.Records) == 0 {
			ev["Records"] = []json.RawMessage{}
		} else if behind > 0 {
			ev["MillisBehindLatest"] = behind
		}
		end := out.NextShardIterator == nil
		if end {
			ev["ChildShards"] = f.children(ctx, r, c.stream, in.ShardId)
		} else {
			ev["ContinuationSequenceNumber"] = continuation
		}
		idle := len(out.Records) == 0 && continuation != "" && (found || time.Since(lastEvent) >= idleEvery)
		found = len(out.Records) > 0
		if found || end || idle {
			payload, _ := json.Marshal(ev)
			if event(enc, w, "SubscribeToShardEvent", payload) != nil {
				return
			}
			flush()
			lastEvent = time.Now()
		}
		if end {
			return
		}
		iter.ShardIterator = *out.NextShardIterator
		if len(out.Records) == 0 {
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

// children lists the shards whose parent is shard, as ChildShards entries.
func (f *FanOut) children(ctx context.Context, r *http.Request, stream, shard string) []map[string]any {
	var out struct {
		Shards []struct {
			ShardId, ParentShardId, AdjacentParentShardId string
			HashKeyRange                                  json.RawMessage
		}
	}
	if code, _ := f.call(ctx, r, "ListShards", map[string]any{"StreamName": stream}, &out); code != "" {
		return []map[string]any{}
	}
	kids := []map[string]any{}
	for _, s := range out.Shards {
		if s.ParentShardId == shard || s.AdjacentParentShardId == shard {
			parents := []string{s.ParentShardId}
			if s.AdjacentParentShardId != "" {
				parents = append(parents, s.AdjacentParentShardId)
			}
			kids = append(kids, map[string]any{"ShardId": s.ShardId, "ParentShards": parents, "HashKeyRange": s.HashKeyRange})
		}
	}
	return kids
}

// event writes one event message of the stream.
func event(enc *eventstream.Encoder, w io.Writer, eventType string, payload []byte) error {
	var msg eventstream.Message
	msg.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.EventMessageType))
	msg.Headers.Set(eventstream.EventTypeHeader, eventstream.StringValue(eventType))
	msg.Headers.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
	msg.Payload = payload
	return enc.Encode(w, msg)
}

// exception ends a stream with an exception message, as the service does when a subscription
// fails after it started.
func exception(enc *eventstream.Encoder, w io.Writer, code, msg string) {
	var m eventstream.Message
	m.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.ExceptionMessageType))
	m.Headers.Set(eventstream.ExceptionTypeHeader, eventstream.StringValue(code))
	m.Headers.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
	m.Payload, _ = json.Marshal(map[string]string{"message": msg})
	_ = enc.Encode(w, m)
}

// call makes a Kinesis call to the kinesalite behind f, signed as the client's request was (the
// kinesalite checks only that a signature is there). It returns the error code and message of
// a failed call.
func (f *FanOut) call(ctx context.Context, client *http.Request, op string, in, out any) (code, msg string) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.target.String()+"/", bytes.NewReader(body))
	if err != nil {
		return "InternalFailure", err.Error()
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Authorization", client.Header.Get("Authorization"))
	req.Header.Set("X-Amz-Date", client.Header.Get("X-Amz-Date"))
	resp, err := f.http.Do(req)
	if err != nil {
		return "InternalFailure", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		if _, after, ok := strings.Cut(e.Type, "#"); ok {
			e.Type = after
		}
		if e.Type == "" {
			e.Type = "InternalFailure"
		}
		return e.Type, e.Message
	}
	if err := json.Unmarshal(b, out); err != nil {
		return "InternalFailure", err.Error()
	}
	return "", ""
}
