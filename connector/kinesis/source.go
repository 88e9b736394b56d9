package kinesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/runnel-io/runnel/connector"
)

// SourceAPI is the part of the Kinesis API the source calls; *kinesis.Client implements it.
type SourceAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, opts ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, opts ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Record is one record read from a shard. Data is the reader's to give away: nothing else
// keeps it.
type Record struct {
	Data                        []byte
	PartitionKey                string
	SequenceNumber              string
	ApproximateArrivalTimestamp time.Time
	ShardID                     string
}

// SourceConfig configures a Source. The zero value of every field but Stream is valid and
// means the default that the field documents.
type SourceConfig struct {
	// Stream is the name of the stream to read. Required.
	Stream string
	// Start is where reading starts in the shards of a job started without a checkpoint.
	// Default: TrimHorizon.
	Start StartPosition
	// DiscoveryInterval is how often the enumerator lists the shards to find the children of
	// resharding, and to hand out children whose parents were read to their end. Default 10s.
	DiscoveryInterval time.Duration
	// PollInterval is how long a shard's fetcher waits before the next GetRecords call after
	// one that found it caught up (no records, or MillisBehindLatest 0). Kinesis allows five
	// GetRecords calls per second per shard. Default 200ms.
	PollInterval time.Duration
	// MaxRecordsPerCall is GetRecords' Limit, at most 10000. Default 10000.
	MaxRecordsPerCall int
	// MaxRetries is how many failed calls in a row a shard's fetcher tolerates (backing off
	// exponentially between them) before the reader fails the job. Throttling
	// (ProvisionedThroughputExceeded) and expired iterators count too; each successful call
	// resets the count. Default 10.
	MaxRetries int
	// BaseBackoff and MaxBackoff bound the exponential backoff between retries: BaseBackoff
	// doubles per failure up to MaxBackoff, with up to 50% random jitter taken off. Defaults
	// 100ms and 10s.
	BaseBackoff, MaxBackoff time.Duration
	// FanOut, if set, reads with enhanced fan-out (SubscribeToShard) instead of polling
	// GetRecords; the client must then implement FanOutAPI, as *kinesis.Client does.
	// PollInterval and MaxRecordsPerCall do not apply; the retry settings do. Positions in
	// checkpoints are the same sequence numbers either way, so a job may switch between
	// polling and fan-out across a restore.
	FanOut *FanOut
}

// Validate returns an error naming the first field out of range.
func (c SourceConfig) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("kinesis: SourceConfig.Stream is empty")
	case c.Start.Kind > AtTimestamp:
		return fmt.Errorf("kinesis: unknown start position %v", c.Start.Kind)
	case c.Start.Kind == AtTimestamp && c.Start.Timestamp.IsZero():
		return errors.New("kinesis: start position AT_TIMESTAMP without a timestamp")
	case c.DiscoveryInterval < 0, c.PollInterval < 0, c.BaseBackoff < 0, c.MaxBackoff < 0:
		return errors.New("kinesis: negative interval in SourceConfig")
	case c.MaxRecordsPerCall < 0 || c.MaxRecordsPerCall > 10000:
		return fmt.Errorf("kinesis: MaxRecordsPerCall %d not in 0..10000", c.MaxRecordsPerCall)
	case c.MaxRetries < 0:
		return fmt.Errorf("kinesis: negative MaxRetries %d", c.MaxRetries)
	case c.FanOut != nil && c.FanOut.ConsumerName == "" && c.FanOut.ConsumerARN == "":
		return errors.New("kinesis: SourceConfig.FanOut needs a ConsumerName or a ConsumerARN")
	case c.FanOut != nil && c.FanOut.RegisterTimeout < 0:
		return errors.New("kinesis: negative FanOut.RegisterTimeout")
	}
	return nil
}

func (c SourceConfig) withDefaults() SourceConfig {
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = 10 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.MaxRecordsPerCall == 0 {
		c.MaxRecordsPerCall = 10000
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 10
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.FanOut != nil {
		fo := *c.FanOut
		if fo.RegisterTimeout == 0 {
			fo.RegisterTimeout = 2 * time.Minute
		}
		c.FanOut = &fo
	}
	return c
}

// Source reads a Kinesis data stream: every shard is a split. It is unbounded. Make one with
// NewSource. A Source runs in one job at a time: its enumerator and readers share what they
// know about finished shards.
type Source struct {
	api SourceAPI
	cfg SourceConfig

	mu struct {
		sync.Mutex
		lin *lineage // of the current run: made by NewEnumerator, taken by NewReader
	}
	// consumerMu serializes the registration of the fan-out consumer and guards the fields
	// after it: consumerARN once the consumer is ACTIVE, the ARN of the stream, and whether this
	// Source registered the consumer (for DeregisterConsumer). It is held across calls to the
	// service, so it is not mu.
	consumerMu  sync.Mutex
	consumerARN string
	streamARN   string
	registered  bool
}

var _ connector.Source[Record] = (*Source)(nil)

// NewSource returns a source reading cfg.Stream through api (a *kinesis.Client, say). It
// returns an error if cfg is invalid.
func NewSource(api SourceAPI, cfg SourceConfig) (*Source, error) {
	if api == nil {
		return nil, errors.New("kinesis: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, ok := api.(FanOutAPI); cfg.FanOut != nil && !ok {
		return nil, fmt.Errorf("kinesis: SourceConfig.FanOut needs a client with SubscribeToShard and the consumer calls (FanOutAPI); %T has not", api)
	}
	s := &Source{api: api, cfg: cfg.withDefaults()}
	return s, nil
}

// Boundedness implements connector.Source: a stream has no end.
func (s *Source) Boundedness() connector.Boundedness { return connector.Unbounded }

// lineage returns the lineage of the current run, making one if fresh (a new enumerator).
func (s *Source) lineage(fresh bool) *lineage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fresh || s.mu.lin == nil {
		s.mu.lin = newLineage()
	}
	return s.mu.lin
}

// NewEnumerator implements connector.Source. On a restore, restored holds the shards no reader
// had yet and the enumerator's record of the shards it assigned; shards it never saw are new
// children and are read from their beginning. It returns an error if a restored split is not
// this source's.
func (s *Source) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &enumerator{src: s, ctx: ctx, lin: s.lineage(true), fresh: restored == nil,
		pending: map[string]*Split{}, assigned: map[string]int{}, ready: map[int]bool{}}
	for _, sp := range restored {
		switch v := sp.(type) {
		case *Split:
			e.pending[v.ShardID] = v.clone()
		case *enumState:
			maps.Copy(e.assigned, v.assigned)
		default:
			return nil, fmt.Errorf("kinesis: restored split %T is not a *kinesis.Split", sp)
		}
	}
	return e, nil
}

// DiscoveryInterval implements connector.Discoverer.
func (e *enumerator) DiscoveryInterval() time.Duration { return e.src.cfg.DiscoveryInterval }

// notRead is the subtask recorded for shards the enumerator decided not to read (closed shards
// at a LATEST start).
const notRead = -1

// enumerator lists shards and assigns each once its parents were read to their end. It is
// called from one goroutine.
type enumerator struct {
	src   *Source
	ctx   connector.EnumeratorContext
	lin   *lineage
	fresh bool // started without a checkpoint: the first listing applies cfg.Start
	// pending holds the shards known and not yet assigned, assigned those handed to a reader
	// (or notRead), by shard ID; a shard is in at most one of them.
	pending  map[string]*Split
	assigned map[string]int
	ready    map[int]bool // subtasks whose readers were added
	listed   map[string]bool
}

var _ connector.Discoverer = (*enumerator)(nil)

func (e *enumerator) Start(ctx context.Context) error {
	return e.Discover(ctx)
}

// Discover lists the shards, takes in the new ones, forgets the ones the stream no longer
// lists (expired past its retention) and assigns the shards whose parents are done.
func (e *enumerator) Discover(ctx context.Context) error {
	shards, err := listShards(ctx, e.src.api, e.src.cfg.Stream)
	if err != nil {
		return err
	}
	listed := make(map[string]bool, len(shards))
	for _, sh := range shards {
		listed[sh.id] = true
	}
	for _, sh := range shards {
		if _, ok := e.assigned[sh.id]; ok {
			continue
		}
		if _, ok := e.pending[sh.id]; ok {
			continue
		}
		sp := &Split{ShardID: sh.id}
		for _, p := range sh.parents {
			if listed[p] {
				sp.Parents = append(sp.Parents, p)
			}
		}
		if e.fresh {
			sp.Start = e.src.cfg.Start
			if sp.Start.Kind == Latest {
				if sh.closed {
					e.assigned[sh.id] = notRead // nothing will ever be added to it
					continue
				}
				sp.Parents = nil // closed parents are not read
			}
		}
		e.pending[sh.id] = sp
	}
	e.fresh = false
	for id := range e.assigned {
		if !listed[id] {
			delete(e.assigned, id) // expired: no child can wait for it
		}
	}
	e.lin.setListed(listed)
	e.listed = listed
	e.assignReady()
	return nil
}

// parentsDone reports whether every parent of sp was read to its end, or will not be read.
func (e *enumerator) parentsDone(sp *Split) bool {
	for _, p := range sp.Parents {
		if e.listed[p] && e.assigned[p] != notRead && !e.lin.finished(p) {
			return false
		}
	}
	return true
}

// assignReady assigns every pending shard whose parents are done, in shard ID order: to the
// reader of its first parent when there is one (so that a key's records of parent and child go
// through one reader, in order), else to the reader with the fewest unfinished shards. It
// assigns nothing before every reader was added.
func (e *enumerator) assignReady() {
	p := e.ctx.Parallelism()
	if len(e.ready) < p {
		return // until every reader is there, so that the shards are spread over all
	}
	load := make([]int, p)
	for id, sub := range e.assigned {
		if sub >= 0 && sub < p && !e.lin.finished(id) {
			load[sub]++
		}
	}
	ids := sortedKeys(e.pending)
	byTask := map[int][]connector.Split{}
	for _, id := range ids {
		sp := e.pending[id]
		if !e.parentsDone(sp) {
			continue
		}
		sub := -1
		for _, parent := range sp.Parents {
			if o, ok := e.assigned[parent]; ok && o >= 0 && o < p && e.ready[o] {
				sub = o
				break
			}
		}
		if sub < 0 {
			best := math.MaxInt
			for i := range p {
				if e.ready[i] && load[i] < best {
					sub, best = i, load[i]
				}
			}
		}
		delete(e.pending, id)
		e.assigned[id] = sub
		load[sub]++
		byTask[sub] = append(byTask[sub], sp.clone())
	}
	for _, sub := range sortedKeys(byTask) {
		e.ctx.Assign(sub, byTask[sub]...)
	}
}

func (e *enumerator) AddReader(_ context.Context, subtask int) error {
	e.ready[subtask] = true
	e.assignReady()
	return nil
}

// AddSplitsBack takes back the shards of a failed reader; they are assigned again from the
// positions they carry.
func (e *enumerator) AddSplitsBack(splits []connector.Split, _ int) {
	for _, sp := range splits {
		v, ok := sp.(*Split)
		if !ok {
			continue
		}
		if v.Finished {
			e.lin.finish(v.ShardID)
			continue
		}
		delete(e.assigned, v.ShardID)
		e.pending[v.ShardID] = v.clone()
	}
	e.assignReady()
}

// Snapshot returns copies of the unassigned shards and the enumerator's record of assignments.
func (e *enumerator) Snapshot() ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(e.pending)+1)
	for _, id := range sortedKeys(e.pending) {
		out = append(out, e.pending[id].clone())
	}
	return append(out, &enumState{assigned: maps.Clone(e.assigned)}), nil
}

func (e *enumerator) Close() error { return nil }

// shard is what the enumerator needs of a listed shard.
type shard struct {
	id      string
	parents []string
	closed  bool
}

// listShards lists every shard of stream, following NextToken.
func listShards(ctx context.Context, api SourceAPI, stream string) ([]shard, error) {
	var out []shard
	in := &kinesis.ListShardsInput{StreamName: &stream}
	for {
		resp, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("kinesis: listing the shards of stream %s: %w", stream, err)
		}
		for _, s := range resp.Shards {
			if s.ShardId == nil {
				continue
			}
			sh := shard{id: *s.ShardId}
			if s.ParentShardId != nil && *s.ParentShardId != "" {
				sh.parents = append(sh.parents, *s.ParentShardId)
			}
			if s.AdjacentParentShardId != nil && *s.AdjacentParentShardId != "" {
				sh.parents = append(sh.parents, *s.AdjacentParentShardId)
			}
			sh.closed = s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, sh)
		}
		if resp.NextToken == nil || *resp.NextToken == "" {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: resp.NextToken}
	}
}
