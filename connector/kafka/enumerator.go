package kafka

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/connector"
)

// NewEnumerator implements connector.Source. The enumerator lists the partitions of the
// source's topics at Start, resolves each one's start offset (and end offset when bounded)
// into a split, and hands each split to one reader: the owner of topic-partition is
// (fnv32(topic) + partition) mod parallelism, so a topic's partitions spread evenly. It
// implements connector.Discoverer: unbounded sources look for new partitions and topics every
// SourceConfig.DiscoveryInterval (see the package documentation on who calls it).
//
// On a restore, restored holds the unassigned splits and the set of partitions the previous
// run knew; the enumerator makes splits only for partitions outside that set.
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &enumerator[T]{
		src:     s,
		ctx:     ctx,
		log:     ctx.Logger(),
		known:   map[string]bool{},
		pending: map[int][]*Split{},
		readers: map[int]bool{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if restored != nil {
		e.restored = true
		for _, sp := range restored {
			switch sp := sp.(type) {
			case *knownSplit:
				e.haveKnown = true
				for _, id := range sp.ids {
					e.known[id] = true
				}
			case *Split:
				c := *sp
				e.known[c.SplitID()] = true
				o := e.owner(c.Topic, c.Partition)
				e.pending[o] = append(e.pending[o], &c)
			default:
				return nil, fmt.Errorf("kafka: restored split %T is not a Kafka split", sp)
			}
		}
	}
	return e, nil
}

// enumerator is the Source's connector.Enumerator. The runtime calls it from one goroutine.
type enumerator[T any] struct {
	src *Source[T]
	ctx connector.EnumeratorContext
	log *slog.Logger
	cl  *kgo.Client
	adm *kadm.Client
	// known holds the ID of every partition a split was made for, assigned or not.
	known map[string]bool
	// pending holds the splits not yet assigned, by owning subtask.
	pending   map[int][]*Split
	readers   map[int]bool // subtasks whose reader was added
	restored  bool
	haveKnown bool // the restored snapshot said which partitions were known
}

var _ connector.Discoverer = (*enumerator[Record])(nil)

func (e *enumerator[T]) owner(topic string, p int32) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return int((uint64(h.Sum32()) + uint64(p)) % uint64(e.ctx.Parallelism()))
}

// Start connects and lists the partitions. It returns an error naming the brokers when the
// cluster cannot be reached within the connect timeout, and an error when a listed topic does
// not exist.
func (e *enumerator[T]) Start(ctx context.Context) error {
	cl, err := kgo.NewClient(e.src.cfg.opts()...)
	if err != nil {
		return fmt.Errorf("kafka: source: %w", err)
	}
	e.cl, e.adm = cl, kadm.NewClient(cl)
	if e.restored && !e.haveKnown {
		// A snapshot without the known set: treat what exists now as known, so no partition is
		// read twice (partitions created since the snapshot are missed).
		parts, err := e.list(ctx)
		if err != nil {
			return err
		}
		for _, tp := range parts {
			e.known[splitID(tp.topic, tp.partition)] = true
		}
		e.log.Warn("kafka source: restored without the set of known partitions; partitions created since the snapshot will not be read")
		return nil
	}
	mode := e.src.cfg.Start
	if e.restored {
		mode = Earliest // partitions new since the snapshot
	}
	return e.discover(ctx, mode)
}

type topicPartition struct {
	topic     string
	partition int32
}

// list returns the partitions of the source's topics, sorted. It asks the brokers each time
// (kadm answers from the client's metadata cache, which would hide new partitions).
func (e *enumerator[T]) list(ctx context.Context) ([]topicPartition, error) {
	ctx, cancel := context.WithTimeout(ctx, e.src.cfg.connectTimeout())
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	if e.src.regex == nil {
		for _, t := range e.src.cfg.Topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := req.RequestWith(ctx, e.cl)
	if err != nil {
		return nil, fmt.Errorf("kafka: source: listing topics from brokers %v: %w%s", e.src.cfg.Brokers, err, e.src.cfg.closedHint(err))
	}
	var out []topicPartition
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		name := *rt.Topic
		if e.src.regex != nil && (rt.IsInternal || !e.src.regex.MatchString(name)) {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return nil, fmt.Errorf("kafka: source: topic %s: %w", name, err)
		}
		for _, rp := range rt.Partitions {
			out = append(out, topicPartition{name, rp.Partition})
		}
	}
	slices.SortFunc(out, func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	return out, nil
}

// discover makes splits, starting as mode says, for the partitions not known yet, and assigns
// them to readers already added.
func (e *enumerator[T]) discover(ctx context.Context, mode StartMode) error {
	parts, err := e.list(ctx)
	if err != nil {
		return err
	}
	parts = slices.DeleteFunc(parts, func(tp topicPartition) bool { return e.known[splitID(tp.topic, tp.partition)] })
	if len(parts) == 0 {
		return nil
	}
	splits, err := e.resolve(ctx, parts, mode)
	if err != nil {
		return err
	}
	byOwner := map[int][]connector.Split{}
	for _, sp := range splits {
		e.known[sp.SplitID()] = true
		o := e.owner(sp.Topic, sp.Partition)
		if e.readers[o] {
			byOwner[o] = append(byOwner[o], sp)
		} else {
			e.pending[o] = append(e.pending[o], sp)
		}
	}
	for _, o := range sortedKeys(byOwner) {
		e.ctx.Assign(o, byOwner[o]...)
	}
	e.log.Info("kafka source: new partitions", "count", len(splits))
	return nil
}

// resolve turns partitions into splits at the offsets mode says.
func (e *enumerator[T]) resolve(ctx context.Context, parts []topicPartition, mode StartMode) ([]*Split, error) {
	ctx, cancel := context.WithTimeout(ctx, e.src.cfg.connectTimeout())
	defer cancel()
	var topics []string
	for _, tp := range parts {
		if len(topics) == 0 || topics[len(topics)-1] != tp.topic {
			topics = append(topics, tp.topic)
		}
	}
	listed := func(what string) func(kadm.ListedOffsets, error) (kadm.ListedOffsets, error) {
		return func(l kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
			if err == nil {
				err = l.Error()
			}
			if err != nil {
				return nil, fmt.Errorf("kafka: source: listing %s offsets of %v: %w", what, topics, err)
			}
			return l, nil
		}
	}
	start, err := listed("start")(e.adm.ListStartOffsets(ctx, topics...))
	if err != nil {
		return nil, err
	}
	var end kadm.ListedOffsets
	if e.src.cfg.Bounded || mode == Latest {
		if end, err = listed("end")(e.adm.ListEndOffsets(ctx, topics...)); err != nil {
			return nil, err
		}
	}
	var at kadm.ListedOffsets
	if mode == AtTimestamp {
		if at, err = listed("timestamp")(e.adm.ListOffsetsAfterMilli(ctx, e.src.cfg.StartTimestamp.UnixMilli(), topics...)); err != nil {
			return nil, err
		}
	}
	var committed kadm.OffsetResponses
	if mode == Committed {
		committed, err = e.adm.FetchOffsets(ctx, e.src.cfg.Group)
		if err == nil {
			err = committed.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("kafka: source: fetching the offsets of group %s: %w", e.src.cfg.Group, err)
		}
	}
	out := make([]*Split, 0, len(parts))
	for _, tp := range parts {
		sp := &Split{Topic: tp.topic, Partition: tp.partition, End: -1}
		first := int64(0)
		if o, ok := start.Lookup(tp.topic, tp.partition); ok {
			first = o.Offset
		}
		sp.Next = first
		switch mode {
		case Latest:
			if o, ok := end.Lookup(tp.topic, tp.partition); ok {
				sp.Next = o.Offset
			}
		case AtTimestamp:
			if o, ok := at.Lookup(tp.topic, tp.partition); ok && o.Offset >= 0 {
				sp.Next = o.Offset
			}
		case Committed:
			if o, ok := committed.Lookup(tp.topic, tp.partition); ok && o.At >= 0 {
				sp.Next = max(o.At, first)
			}
		}
		if e.src.cfg.Bounded {
			sp.End = 0
			if o, ok := end.Lookup(tp.topic, tp.partition); ok {
				sp.End = o.Offset
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

// AddReader assigns the reader of subtask the splits it owns; a bounded source then says there
// will be no more.
func (e *enumerator[T]) AddReader(_ context.Context, subtask int) error {
	e.readers[subtask] = true
	if mine := e.pending[subtask]; len(mine) > 0 {
		delete(e.pending, subtask)
		out := make([]connector.Split, len(mine))
		for i, sp := range mine {
			out[i] = sp
		}
		e.ctx.Assign(subtask, out...)
	}
	if e.src.cfg.Bounded {
		e.ctx.NoMoreSplits(subtask)
	}
	return nil
}

// AddSplitsBack keeps splits of a failed reader for when it is added again.
func (e *enumerator[T]) AddSplitsBack(splits []connector.Split, subtask int) {
	delete(e.readers, subtask)
	for _, sp := range splits {
		if k, ok := sp.(*Split); ok {
			c := *k
			e.pending[subtask] = append(e.pending[subtask], &c)
		}
	}
}

// Snapshot returns copies of the unassigned splits and the set of known partitions.
func (e *enumerator[T]) Snapshot() ([]connector.Split, error) {
	var out []connector.Split
	for _, o := range sortedKeys(e.pending) {
		for _, sp := range e.pending[o] {
			c := *sp
			out = append(out, &c)
		}
	}
	ids := make([]string, 0, len(e.known))
	for id := range e.known {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return append(out, &knownSplit{ids: ids}), nil
}

// Discover implements connector.Discoverer: it makes splits for partitions and topics that
// appeared since the last listing, starting at their earliest offsets. Bounded sources find
// nothing.
func (e *enumerator[T]) Discover(ctx context.Context) error {
	if e.src.cfg.Bounded || e.cl == nil {
		return nil
	}
	return e.discover(ctx, Earliest)
}

// DiscoveryInterval implements connector.Discoverer: SourceConfig.DiscoveryInterval, 0 when
// discovery is off.
func (e *enumerator[T]) DiscoveryInterval() time.Duration {
	if e.src.cfg.Bounded || e.src.cfg.DiscoveryInterval < 0 {
		return 0
	}
	return e.src.cfg.DiscoveryInterval
}

// Close closes the enumerator's client.
func (e *enumerator[T]) Close() error {
	if e.cl != nil {
		e.cl.Close()
	}
	return nil
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
