package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/metrics"
	"github.com/runnel-io/runnel/stream"
)

// enumCtx is a connector.EnumeratorContext that records assignments.
type enumCtx struct {
	p        int
	assigned map[int][]connector.Split
	noMore   map[int]bool
}

func newEnumCtx(p int) *enumCtx {
	return &enumCtx{p: p, assigned: map[int][]connector.Split{}, noMore: map[int]bool{}}
}

func (c *enumCtx) Parallelism() int { return c.p }
func (c *enumCtx) Assign(subtask int, splits ...connector.Split) {
	c.assigned[subtask] = append(c.assigned[subtask], splits...)
}
func (c *enumCtx) NoMoreSplits(subtask int) { c.noMore[subtask] = true }
func (c *enumCtx) Logger() *slog.Logger     { return slog.New(slog.DiscardHandler) }

// take returns and forgets the splits assigned to subtask.
func (c *enumCtx) take(subtask int) []connector.Split {
	s := c.assigned[subtask]
	delete(c.assigned, subtask)
	return s
}

// output is a connector.ReaderOutput collecting values.
type output[T any] struct {
	mu       sync.Mutex
	vals     []T
	released []string
}

type splitOut[T any] struct{ o *output[T] }

func (s splitOut[T]) Collect(v T, _ int64) {
	s.o.mu.Lock()
	s.o.vals = append(s.o.vals, v)
	s.o.mu.Unlock()
}

func (o *output[T]) Split(string) connector.SplitOutput[T] { return splitOut[T]{o} }
func (o *output[T]) ReleaseSplit(id string)                { o.released = append(o.released, id) }

// readUntil calls Read until the output holds n values or the reader ends, waiting on
// Available between reads; it fails the test after 20s.
func readUntil[T any](t testing.TB, r connector.Reader[T], out *output[T], n int) connector.ReadStatus {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		st, err := r.Read(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.vals) >= n || st == connector.EndOfInput {
			return st
		}
		if st == connector.NothingAvailable {
			var ch <-chan struct{}
			if a, ok := r.(connector.Availability); ok {
				ch = a.Available()
			}
			if ch == nil {
				t.Fatalf("reader has nothing and no availability channel after %d values", len(out.vals))
			}
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("read %d values, want %d", len(out.vals), n)
			}
		}
	}
}

func ints(rs []kafka.Record) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i], _ = strconv.Atoi(string(r.Value))
	}
	slices.Sort(out)
	return out
}

// TestSourceRestoreContinuesExactly reads part of an unbounded topic, snapshots and encodes
// the reader's splits, and reads on with a new enumerator and reader restored from the
// decoded snapshot: together the two runs read every record once, including records
// produced after the snapshot.
func TestSourceRestoreContinuesExactly(t *testing.T) {
	c := newCluster(t, 3, "in")
	produce(t, c, "in", 0, 600)
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, MaxPollRecords: 7})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ec := newEnumCtx(1)
	e, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.AddReader(ctx, 0); err != nil {
		t.Fatal(err)
	}
	splits := ec.take(0)
	if len(splits) != 3 {
		t.Fatalf("assigned %d splits, want the 3 partitions", len(splits))
	}
	r, err := src.NewReader(connector.ReaderContext{Subtask: 0, Parallelism: 1, Clock: eventtime.RealClock()})
	if err != nil {
		t.Fatal(err)
	}
	r.AddSplits(splits)
	first := &output[kafka.Record]{}
	readUntil(t, r, first, 250)
	snap, err := r.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	enumSnap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	encode := func(ss []connector.Split) [][]byte {
		var out [][]byte
		for _, s := range ss {
			b, err := src.EncodeSplit(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	readerBytes, enumBytes := encode(snap), encode(enumSnap)
	// Records the first reader emits after the snapshot are lost with it (a failure).
	readUntil(t, r, first, 400)
	r.Close()
	e.Close()
	produce(t, c, "in", 600, 300)

	decode := func(bs [][]byte) []connector.Split {
		var out []connector.Split
		for _, b := range bs {
			s, err := src.DecodeSplit(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	ec2 := newEnumCtx(1)
	e2, err := src.NewEnumerator(ec2, decode(enumBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if err := e2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := src.NewReader(connector.ReaderContext{Subtask: 0, Parallelism: 1, Clock: eventtime.RealClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.AddSplits(decode(readerBytes)) // the runtime hands readers their splits first
	if err := e2.AddReader(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if s := ec2.take(0); len(s) != 0 {
		t.Fatalf("the restored enumerator made %d splits again", len(s))
	}
	// The first reader emitted records up to the snapshot's positions (sums of next offsets,
	// the partitions starting at 0) before it; the second emits the rest.
	var at int64
	for _, s := range snap {
		at += s.(*kafka.Split).Next
	}
	second := &output[kafka.Record]{}
	readUntil(t, r2, second, 900-int(at))
	got := append(slices.Clone(first.vals[:at]), second.vals...)
	checkExactlyOnce(t, ints(got), seq(0, 900))
}

// TestEnumeratorDiscovers finds partitions added to a topic and topics created while the
// source runs (by regex), and after a restore makes splits only for partitions new since the
// snapshot. The runtime does not call Discover yet (see the package documentation), so the
// test calls it as the runtime would.
func TestEnumeratorDiscovers(t *testing.T) {
	c := newCluster(t, 2, "t-a", "other")
	ctx := context.Background()
	adm := kadm.NewClient(client(t, c))
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, TopicRegex: "^" + regexp.QuoteMeta(c.topic("t-")), Start: kafka.Latest})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, c, "t-a", 0, 10)
	ec := newEnumCtx(2)
	e, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d, ok := e.(connector.Discoverer)
	if !ok || d.DiscoveryInterval() != kafka.DefaultDiscoveryInterval {
		t.Fatalf("enumerator is not a Discoverer with the default interval")
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := e.AddReader(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	got := func() map[string]int64 {
		m := map[string]int64{}
		for i := range 2 {
			for _, s := range ec.take(i) {
				sp := s.(*kafka.Split)
				m[sp.SplitID()] = sp.Next
			}
		}
		return m
	}
	first := got()
	var sum int64
	for _, next := range first {
		sum += next
	}
	if len(first) != 2 || sum != 10 {
		t.Fatalf("first listing %v: want t-a's 2 partitions at their ends (Latest), 10 records in all", first)
	}
	if _, err := adm.CreatePartitions(ctx, 1, c.topic("t-a")); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, c.topic("t-b")); err != nil {
		t.Fatal(err)
	}
	produce(t, c, "t-b", 0, 5)
	if err := d.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{c.topic("t-a-2"): 0, c.topic("t-b-0"): 0} // new partitions start at the earliest offset
	if m := got(); !mapsEqual(m, want) {
		t.Fatalf("discovered %v, want %v", m, want)
	}
	if err := d.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if m := got(); len(m) != 0 {
		t.Fatalf("discovered %v again", m)
	}
	// Restore from the enumerator's snapshot: only partitions created since are new.
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var restored []connector.Split
	for _, s := range snap {
		b, err := src.EncodeSplit(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := src.DecodeSplit(b)
		if err != nil {
			t.Fatal(err)
		}
		restored = append(restored, s2)
	}
	if _, err := adm.CreatePartitions(ctx, 1, c.topic("t-b")); err != nil {
		t.Fatal(err)
	}
	ec = newEnumCtx(2)
	e2, err := src.NewEnumerator(ec, restored)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if err := e2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := e2.AddReader(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if m := got(); !mapsEqual(m, map[string]int64{c.topic("t-b-1"): 0}) {
		t.Fatalf("restored enumerator made %v, want only the partition created since the snapshot", m)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestSourceMalformedRecords decodes numbers: under format.Fail the job fails with an error
// naming the topic, partition, offset and reason; under format.DeadLetter the record goes to
// the dead-letter function and the job goes on.
func TestSourceMalformedRecords(t *testing.T) {
	c := newCluster(t, 2, "in")
	produce(t, c, "in", 0, 100)
	cl := client(t, c)
	res := cl.ProduceSync(context.Background(), &kgo.Record{Topic: c.topic("in"), Key: []byte("bad"), Value: []byte("not a number")})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	bad := res[0].Record
	decode := func(r *kafka.Record) (int, error) { return strconv.Atoi(string(r.Value)) }
	run := func(policy format.Policy, dl func(*format.RecordError) error) ([]int, error) {
		src, err := kafka.NewDecodedSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, Bounded: true, Policy: policy, DeadLetter: dl}, decode)
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("decode", stream.Config{Parallelism: 2})
		got := stream.Collect(stream.FromSource(env, src, eventtime.Monotonous(func(int) int64 { return 0 })))
		err = env.Execute(context.Background())
		vals := got.Values()
		slices.Sort(vals)
		return vals, err
	}
	_, err := run(format.Fail, nil)
	var rerr *format.RecordError
	if !errors.As(err, &rerr) || rerr.Source != c.topic("in")+"/"+strconv.Itoa(int(bad.Partition)) || rerr.Offset != bad.Offset ||
		!strings.Contains(err.Error(), "invalid syntax") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("job error %v; want a *format.RecordError at in/%d offset %d", err, bad.Partition, bad.Offset)
	}
	t.Logf("%v", err)
	var mu sync.Mutex
	var dead []*format.RecordError
	vals, err := run(format.DeadLetter, func(e *format.RecordError) error {
		mu.Lock()
		defer mu.Unlock()
		dead = append(dead, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, vals, seq(0, 100))
	if len(dead) != 1 || string(dead[0].Raw) != "not a number" || dead[0].Offset != bad.Offset {
		t.Fatalf("dead letters %v, want the one malformed record", dead)
	}
}

// TestUnresponsiveBrokerFails points a source at a listener that accepts connections and never
// answers: the job fails within the connect timeout instead of hanging.
func TestUnresponsiveBrokerFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	cl := kafka.Cluster{Brokers: []string{ln.Addr().String()}, ConnectTimeout: time.Second}
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: cl, Topics: []string{"in"}})
	if err != nil {
		t.Fatal(err)
	}
	env := stream.New("silent", stream.Config{Parallelism: 1})
	stream.FromSource(env, src, eventtime.Monotonous(recordTime)).Discard()
	start := time.Now()
	err = env.Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("job error %v; want one naming the broker", err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("took %v to fail", el)
	}
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestSourceLagGauge checks the reader's records_lag_max gauge: above zero while the reader is
// behind the partitions' ends, zero once it has read everything of every partition.
func TestSourceLagGauge(t *testing.T) {
	c := newCluster(t, 3, "in")
	produce(t, c, "in", 0, 600)
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, MaxPollRecords: 7})
	if err != nil {
		t.Fatal(err)
	}
	r, lag := lagReader(t, src)
	out := &output[kafka.Record]{}
	readUntil(t, r, out, 7)
	// The fetch that handed over the first records set the gauge before handing them over.
	if got := lag.Load(); got <= 0 || got >= 600 {
		t.Fatalf("records_lag_max %d after reading %d of 600 records, want between 0 and 600", got, len(out.vals))
	}
	readUntil(t, r, out, 600)
	if got := lag.Load(); got != 0 {
		t.Fatalf("records_lag_max %d after reading all 600 records, want 0", got)
	}
}

// lagReader starts an enumerator and a reader of all of src's partitions, and returns the
// reader and its records_lag_max gauge. Both are closed at the end of the test.
func lagReader(t *testing.T, src *kafka.Source[kafka.Record]) (connector.Reader[kafka.Record], *atomic.Int64) {
	t.Helper()
	ctx := context.Background()
	ec := newEnumCtx(1)
	e, err := src.NewEnumerator(ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.AddReader(ctx, 0); err != nil {
		t.Fatal(err)
	}
	gauges := map[string]*atomic.Int64{}
	rc := connector.ReaderContext{Subtask: 0, Parallelism: 1, Clock: eventtime.RealClock(),
		Gauges: func(name string) *atomic.Int64 {
			gauges[name] = new(atomic.Int64)
			return gauges[name]
		}}
	r, err := src.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	lag := gauges[metrics.RecordsLagMax]
	if lag == nil {
		t.Fatalf("the reader made gauges %v, not %s", slices.Collect(maps.Keys(gauges)), metrics.RecordsLagMax)
	}
	r.AddSplits(ec.take(0))
	return r, lag
}

// TestSourceLagReadCommitted checks that a read_committed reader's lag ends at the last
// stable offset, as the Java consumer's does: the records of a transaction still open are not
// lag, since no read_committed reader can read them yet.
func TestSourceLagReadCommitted(t *testing.T) {
	c := newCluster(t, 1, "in")
	ctx := context.Background()
	tx := func(id string, n int) *kgo.Client {
		cl := client(t, c, kgo.TransactionalID(c.topic(id)), kgo.DefaultProduceTopic(c.topic("in")))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		return cl
	}
	if err := tx("done", 50).EndTransaction(ctx, kgo.TryCommit); err != nil { // offsets 0-49, marker 50
		t.Fatal(err)
	}
	open := tx("open", 10) // offsets 51-60, left open while the reader reads
	t.Cleanup(func() { open.EndTransaction(context.Background(), kgo.TryAbort) })
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, ReadCommitted: true})
	if err != nil {
		t.Fatal(err)
	}
	r, lag := lagReader(t, src)
	out := &output[kafka.Record]{}
	readUntil(t, r, out, 50)
	// Read on until the reader is past the commit marker: the lag it set then is final.
	deadline := time.After(20 * time.Second)
	for {
		splits, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		if len(splits) == 1 && splits[0].(*kafka.Split).Next >= 51 {
			break
		}
		st, err := r.Read(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if st == connector.NothingAvailable {
			select {
			case <-r.(connector.Availability).Available():
			case <-deadline:
				t.Fatalf("the reader did not get past the commit marker at offset 50 (splits %v)", splits)
			}
		}
	}
	if len(out.vals) != 50 {
		t.Fatalf("read %d records, want the 50 committed", len(out.vals))
	}
	if got := lag.Load(); got != 0 {
		t.Fatalf("records_lag_max %d with every committed record read and a transaction of 10 open, want 0", got)
	}
}

// TestSourceLagMetric checks records_lag_max as a job's metrics listener sees it. The operator
// after the source holds the first record until a snapshot shows the source behind (lag above
// zero, not every record out), so backpressure keeps the source behind meanwhile; released,
// the job reads to the ends of the partitions, and a snapshot shows every record out of the
// source and records_lag_max at 0.
func TestSourceLagMetric(t *testing.T) {
	c := newCluster(t, 3, "in")
	const n = 600
	produce(t, c, "in", 0, n)
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c.Cluster, Topics: []string{c.topic("in")}, MaxPollRecords: 7})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		behind, caughtUp   = make(chan struct{}), make(chan struct{})
		behindLag, behindN int64 // set before behind is closed
		once               sync.Once
	)
	listener := metrics.ListenerFunc(func(s metrics.Snapshot) {
		var out, lag int64
		seen := false
		for _, o := range s.Operators {
			if o.Operator != "kafka" {
				continue
			}
			out += o.RecordsOut
			if v, ok := o.Gauges[metrics.RecordsLagMax]; ok {
				lag, seen = max(lag, v), true
			}
		}
		select {
		case <-behind:
			if seen && lag == 0 && out == n {
				once.Do(func() { close(caughtUp) })
			}
		default:
			if seen && lag > 0 && out < n {
				behindLag, behindN = lag, out
				close(behind)
			}
		}
	})
	env := stream.New("lag", stream.Config{Parallelism: 1, BatchSize: 16, BufferBatches: 1,
		Metrics: listener, MetricsInterval: time.Millisecond})
	in := stream.FromSource(env, src, eventtime.Monotonous(recordTime)).Name("kafka")
	stream.Map(in.Rebalance(), func(r kafka.Record) kafka.Record {
		select {
		case <-behind:
		case <-ctx.Done():
		}
		return r
	}).Discard()
	done := make(chan error, 1)
	go func() { done <- env.Execute(ctx) }()
	select {
	case <-caughtUp:
	case err := <-done:
		t.Fatalf("the job ended (%v) before the metrics showed the source caught up", err)
	case <-ctx.Done():
		select {
		case <-behind:
			t.Fatal("the metrics showed the source behind but never caught up with records_lag_max 0")
		default:
			t.Fatal("the metrics never showed the source behind with records_lag_max above 0")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("job error %v, want context.Canceled", err)
	}
	if behindLag > n {
		t.Fatalf("records_lag_max %d while behind, more than the %d records in the topic", behindLag, n)
	}
	t.Logf("records_lag_max %d with %d of %d records out of the source, then 0 with all out", behindLag, behindN, n)
}
