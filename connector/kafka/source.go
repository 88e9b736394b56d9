package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format"
)

// StartMode says where a source starts reading a partition it has no checkpointed position
// for.
type StartMode uint8

const (
	// Earliest starts at the oldest retained record (the default).
	Earliest StartMode = iota
	// Latest starts after the last record at the time the partition is first seen.
	Latest
	// AtTimestamp starts at the first record whose timestamp is at or after
	// SourceConfig.StartTimestamp, or at the end when there is none.
	AtTimestamp
	// Committed starts at the offsets committed for SourceConfig.Group, and where the group
	// committed none at Earliest.
	Committed
)

// DefaultDiscoveryInterval is how often an unbounded source looks for new partitions.
const DefaultDiscoveryInterval = 30 * time.Second

// SourceConfig configures a Source. Zero fields take the defaults their comments state.
type SourceConfig struct {
	Cluster
	// Topics to read; or TopicRegex (one of the two, not both).
	Topics []string
	// TopicRegex selects the topics whose names it matches (anchor it with ^ and $ for a
	// whole-name match); topics created later are found by discovery.
	TopicRegex string
	// Start is where partitions without a checkpointed position start; default Earliest.
	// Partitions found by discovery after the first listing start at Earliest whatever Start
	// says: they are new, and every record in them is new.
	Start StartMode
	// StartTimestamp is the time for AtTimestamp.
	StartTimestamp time.Time
	// Group is the consumer group whose committed offsets Committed starts from, and to which
	// readers commit their checkpointed offsets after each completed checkpoint (for
	// monitoring and lag tools: progress is in the checkpoints, not in the group). Empty: none.
	// The source never joins the group: partitions are assigned by the enumerator.
	Group string
	// Bounded makes the source end: each partition is read up to its end offset at the time
	// the partition is first listed. Default unbounded.
	Bounded bool
	// ReadCommitted reads only committed records of transactional producers (isolation level
	// read_committed). Default read_uncommitted.
	ReadCommitted bool
	// DiscoveryInterval is how often an unbounded source looks for new partitions and topics;
	// default DefaultDiscoveryInterval; negative disables discovery.
	DiscoveryInterval time.Duration
	// MaxPollRecords bounds the records a reader hands over in one Read; default 500.
	MaxPollRecords int
	// Policy is what to do with a record the decoder rejects; default format.Fail.
	Policy format.Policy
	// DeadLetter receives rejected records under format.DeadLetter. It is called from the
	// readers' goroutines, concurrently; an error it returns fails the job.
	DeadLetter func(*format.RecordError) error
}

// Validate reports whether c is usable.
func (c *SourceConfig) Validate() error {
	if err := c.Cluster.validate("source"); err != nil {
		return err
	}
	switch {
	case len(c.Topics) == 0 && c.TopicRegex == "":
		return errors.New("kafka: source: no topics and no topic regex")
	case len(c.Topics) > 0 && c.TopicRegex != "":
		return errors.New("kafka: source: both topics and a topic regex")
	case c.Start > Committed:
		return fmt.Errorf("kafka: source: unknown start mode %d", c.Start)
	case c.Start == Committed && c.Group == "":
		return errors.New("kafka: source: start at committed offsets without a group")
	case c.Start == AtTimestamp && c.StartTimestamp.IsZero():
		return errors.New("kafka: source: start at a timestamp without a timestamp")
	case c.MaxPollRecords < 0:
		return fmt.Errorf("kafka: source: negative max poll records %d", c.MaxPollRecords)
	}
	for _, t := range c.Topics {
		if t == "" {
			return errors.New("kafka: source: empty topic name")
		}
	}
	if c.TopicRegex != "" {
		if _, err := regexp.Compile(c.TopicRegex); err != nil {
			return fmt.Errorf("kafka: source: topic regex: %w", err)
		}
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("kafka: source: %w", err)
	}
	if c.Policy == format.DeadLetter && c.DeadLetter == nil {
		return fmt.Errorf("kafka: source: %w", format.ErrNoDeadLetter)
	}
	return nil
}

// Source reads Kafka partitions as splits and emits each record decoded as a T. Make one with
// NewSource (raw Records) or NewDecodedSource. A Source is immutable and safe for concurrent
// use; the runtime makes one enumerator and a reader per subtask.
type Source[T any] struct {
	cfg    SourceConfig
	regex  *regexp.Regexp
	decode func(*Record) (T, error)
}

var (
	_ connector.Source[Record] = (*Source[Record])(nil)
	_ connector.SplitCodec     = (*Source[Record])(nil)
)

// NewSource returns a source of raw records. It returns an error if cfg is invalid.
func NewSource(cfg SourceConfig) (*Source[Record], error) {
	return NewDecodedSource(cfg, func(r *Record) (Record, error) { return *r, nil })
}

// NewDecodedSource returns a source that emits decode(record) for each record. decode is called
// from the readers' goroutines concurrently; it may keep r's slices. When it returns an error,
// cfg.Policy applies: Fail ends the job with a *format.RecordError naming the topic, partition,
// offset and reason; DeadLetter hands that error, holding the raw value, to cfg.DeadLetter and
// goes on. decode may return a *format.RecordError itself (a format package's decoder does);
// the source fills in its position. A message is a record even when its value is empty or
// blank: unlike the line sources of connector/file and connector/s3, this source skips nothing,
// and format/json's ErrEmpty (format.ErrBlank) goes to the policy like any other error.
func NewDecodedSource[T any](cfg SourceConfig, decode func(r *Record) (T, error)) (*Source[T], error) {
	if decode == nil {
		return nil, errors.New("kafka: source: nil decode function")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Source[T]{cfg: cfg, decode: decode}
	if cfg.TopicRegex != "" {
		s.regex = regexp.MustCompile(cfg.TopicRegex)
	}
	if s.cfg.MaxPollRecords == 0 {
		s.cfg.MaxPollRecords = 500
	}
	if s.cfg.DiscoveryInterval == 0 {
		s.cfg.DiscoveryInterval = DefaultDiscoveryInterval
	}
	return s, nil
}

// Boundedness implements connector.Source.
func (s *Source[T]) Boundedness() connector.Boundedness {
	if s.cfg.Bounded {
		return connector.Bounded
	}
	return connector.Unbounded
}

// recordError makes the *format.RecordError of a record decode rejected.
func recordError(r *Record, err error) *format.RecordError {
	pos := format.Position{Source: r.position(), Offset: r.Offset}
	var rerr *format.RecordError
	if errors.As(err, &rerr) {
		c := *rerr
		c.Position = pos
		if c.Raw == nil {
			c.Raw = r.Value
		}
		return &c
	}
	return &format.RecordError{Position: pos, Format: "kafka", Raw: r.Value, Err: err}
}
