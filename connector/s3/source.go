package s3

import (
	"context"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/connector"
	"github.com/runnel-io/runnel/format"
)

// DefaultBatchLines is the default number of lines a reader emits per Read.
const DefaultBatchLines = 1024

// SourceOption configures a Source.
type SourceOption func(*sourceConfig)

type sourceConfig struct {
	conn       Connection
	monitor    time.Duration // 0: bounded
	policy     format.Policy
	deadLetter func(*format.RecordError) error
	filter     func(key string) bool
	batch      int
}

// SourceConnection sets how the source reaches S3. Default: the zero Connection (the standard
// AWS configuration chain).
func SourceConnection(c Connection) SourceOption { return func(s *sourceConfig) { s.conn = c } }

// Monitor makes the source unbounded: besides the objects present at the start, it lists the
// prefix every interval and reads the objects that appeared since. The enumerator remembers
// every key it has read (in memory and in checkpoints), so an object is read once even when
// it is replaced later. Default: bounded, the objects present at the start are read once.
func Monitor(interval time.Duration) SourceOption {
	return func(s *sourceConfig) { s.monitor = interval }
}

// OnMalformed sets what happens to a line decode rejects. Under format.Fail (the default) the
// job fails with a *format.RecordError naming the object, line, byte offset (-1 for
// compressed objects) and reason. Under format.DeadLetter the error, holding a copy of the
// line, goes to deadLetter, which the readers call from their goroutines concurrently; if it
// returns an error the job fails with it.
func OnMalformed(p format.Policy, deadLetter func(*format.RecordError) error) SourceOption {
	return func(s *sourceConfig) { s.policy, s.deadLetter = p, deadLetter }
}

// Filter restricts the source to the keys for which keep returns true. Whatever it says, keys
// ending in "/" and keys whose last segment starts with '.' or '_' (in-progress and hidden
// files by Hive's and Spark's conventions) are skipped. Default: every other key.
func Filter(keep func(key string) bool) SourceOption {
	return func(s *sourceConfig) { s.filter = keep }
}

// BatchLines sets how many lines a reader emits per Read at most. Default DefaultBatchLines.
func BatchLines(n int) SourceOption { return func(s *sourceConfig) { s.batch = n } }

// RecordDecoder is what format/json's and format/csv's decoders provide.
type RecordDecoder[T any] interface {
	Decode(record []byte, pos format.Position) (T, *format.RecordError)
}

// Decode adapts a format decoder, such as a *json.Decoder[T] of format/json, to NewSource's
// decode function. The source fills in the position of the errors it returns.
func Decode[T any](d RecordDecoder[T]) func(line []byte) (T, error) {
	return func(line []byte) (T, error) {
		v, rerr := d.Decode(line, format.Position{Offset: -1})
		if rerr != nil {
			return v, rerr
		}
		return v, nil
	}
}

// Source reads the lines of the objects below an S3 prefix, each object a split. Objects
// whose key ends in ".gz" are gzip streams, in ".zst" or ".zstd" zstd streams; any other
// object is read as it is. A Source is immutable and safe for concurrent use.
type Source[T any] struct {
	loc     location
	decode  func(line []byte) (T, error)
	cfg     sourceConfig
	cl      *client
	parquet bool // NewParquetSource: objects are Parquet files, positions are rows
	avro    bool // NewAvroSource: objects are Avro container files, positions are records
}

var (
	_ connector.Source[int] = (*Source[int])(nil)
	_ connector.SplitCodec  = (*Source[int])(nil)
	_ connector.Discoverer  = (*monitoringEnumerator[int])(nil)
	_ connector.Reader[int] = (*reader[int])(nil)
	_ connector.Enumerator  = (*enumerator[int])(nil)
)

// NewSource returns a source of the objects below url, "s3://bucket/prefix", one record per
// line decoded by decode. decode gets the line without its line end and must not keep it; an
// error it returns is a malformed line, handled by the OnMalformed policy (a
// *format.RecordError is completed with the position, any other error is wrapped in one).
// Empty lines are skipped, and so are lines decode rejects with an error wrapping
// format.ErrBlank: format/json's decoder does for lines of white space only.
//
// NewSource reads the AWS configuration (environment, shared files) but does not contact S3;
// the enumerator's first listing does. It returns an error if url or an option is invalid.
func NewSource[T any](url string, decode func(line []byte) (T, error), opts ...SourceOption) (*Source[T], error) {
	loc, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if decode == nil {
		return nil, fmt.Errorf("s3: source %s: nil decode function", loc)
	}
	cfg := sourceConfig{batch: DefaultBatchLines}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.conn.Validate(); err != nil {
		return nil, fmt.Errorf("s3: source %s: %w", loc, err)
	}
	if cfg.monitor < 0 {
		return nil, fmt.Errorf("s3: source %s: negative monitor interval %v", loc, cfg.monitor)
	}
	if err := cfg.policy.Validate(); err != nil {
		return nil, fmt.Errorf("s3: source %s: %w", loc, err)
	}
	if cfg.policy == format.DeadLetter && cfg.deadLetter == nil {
		return nil, fmt.Errorf("s3: source %s: %w", loc, format.ErrNoDeadLetter)
	}
	if cfg.batch <= 0 {
		return nil, fmt.Errorf("s3: source %s: batch of %d lines is not positive", loc, cfg.batch)
	}
	cl, err := newClient(context.Background(), cfg.conn)
	if err != nil {
		return nil, fmt.Errorf("s3: source %s: %w", loc, err)
	}
	return &Source[T]{loc: loc, decode: decode, cfg: cfg, cl: cl}, nil
}

// Boundedness is connector.Bounded, or connector.Unbounded with Monitor.
func (s *Source[T]) Boundedness() connector.Boundedness {
	if s.cfg.monitor > 0 {
		return connector.Unbounded
	}
	return connector.Bounded
}

// NewEnumerator implements connector.Source. A restored enumerator does not list again
// (bounded) or skips the objects it had seen (Monitor).
func (s *Source[T]) NewEnumerator(ctx connector.EnumeratorContext, restored []connector.Split) (connector.Enumerator, error) {
	e := &enumerator[T]{src: s, ctx: ctx, seen: map[string]bool{}, registered: map[int]bool{}, finished: map[int]bool{}}
	for _, sp := range restored {
		switch sp := sp.(type) {
		case *Split:
			e.pending = append(e.pending, sp)
			e.seen[sp.Key] = true
		case *enumState:
			e.listed = true
			for _, k := range sp.seen {
				e.seen[k] = true
			}
		default:
			return nil, fmt.Errorf("s3: source %s: restored split %T is not an s3 split", s.loc, sp)
		}
	}
	if s.cfg.monitor > 0 {
		return &monitoringEnumerator[T]{e}, nil
	}
	return e, nil
}

// enumerator lists objects and assigns them round robin. It is called from one goroutine.
type enumerator[T any] struct {
	src        *Source[T]
	ctx        connector.EnumeratorContext
	seen       map[string]bool // keys split so far (including restored ones)
	pending    []*Split        // not yet assigned
	registered map[int]bool    // readers that asked for splits
	finished   map[int]bool    // readers told NoMoreSplits
	listed     bool            // the initial listing happened (here or before a restore)
	next       int             // round-robin cursor
}

// Start lists the prefix, unless a restored checkpoint says it was listed already.
func (e *enumerator[T]) Start(ctx context.Context) error {
	if e.listed {
		return nil
	}
	if err := e.list(ctx); err != nil {
		return err
	}
	e.listed = true
	return nil
}

// list adds a split for every new object below the prefix.
func (e *enumerator[T]) list(ctx context.Context) error {
	s := e.src
	p := s3.NewListObjectsV2Paginator(s.cl, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.loc.bucket),
		Prefix: aws.String(s.loc.prefix),
	})
	added := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3: source: listing %s: %w", s.cl.where(s.loc.bucket, s.loc.prefix), err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if e.seen[key] || !s.keep(key) {
				continue
			}
			e.seen[key] = true
			e.pending = append(e.pending, &Split{Key: key, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag)})
			added++
		}
	}
	if added > 0 {
		e.ctx.Logger().Debug("s3 source: found objects", "location", s.loc.String(), "new", added)
	}
	return nil
}

// keep reports whether key is an object to read.
func (s *Source[T]) keep(key string) bool {
	if key == "" || key[len(key)-1] == '/' {
		return false
	}
	if b := path.Base(key); b[0] == '.' || b[0] == '_' {
		return false
	}
	return s.cfg.filter == nil || s.cfg.filter(key)
}

// AddReader registers the reader of subtask and assigns it pending splits.
func (e *enumerator[T]) AddReader(_ context.Context, subtask int) error {
	e.registered[subtask] = true
	delete(e.finished, subtask) // a restarted reader
	e.assign()
	return nil
}

// assign hands the pending splits round robin to the registered readers that may still get
// splits, then, for a bounded source, tells those readers there are no more.
func (e *enumerator[T]) assign() {
	var targets []int
	for sub := range e.registered {
		if !e.finished[sub] {
			targets = append(targets, sub)
		}
	}
	slices.Sort(targets)
	if len(targets) > 0 {
		for _, sp := range e.pending {
			sub := targets[e.next%len(targets)]
			e.next++
			e.ctx.Assign(sub, sp)
		}
		e.pending = nil
	}
	if e.src.cfg.monitor == 0 && e.listed && len(e.pending) == 0 {
		for _, sub := range targets {
			e.ctx.NoMoreSplits(sub)
			e.finished[sub] = true
		}
	}
}

// AddSplitsBack takes back the splits of a failed reader; they go to the next readers that
// register.
func (e *enumerator[T]) AddSplitsBack(splits []connector.Split, subtask int) {
	delete(e.registered, subtask)
	for _, sp := range splits {
		if o, ok := sp.(*Split); ok {
			e.pending = append(e.pending, o)
		}
	}
	e.assign()
}

// Snapshot returns the unassigned splits and the enumerator's state.
func (e *enumerator[T]) Snapshot() ([]connector.Split, error) {
	out := make([]connector.Split, 0, len(e.pending)+1)
	for _, sp := range e.pending {
		c := *sp
		out = append(out, &c)
	}
	st := &enumState{}
	if e.src.cfg.monitor > 0 {
		st.seen = make([]string, 0, len(e.seen))
		for k := range e.seen {
			st.seen = append(st.seen, k)
		}
		slices.Sort(st.seen)
	}
	return append(out, st), nil
}

// Close does nothing.
func (e *enumerator[T]) Close() error { return nil }

// monitoringEnumerator is the enumerator of a Monitor source: it lists again at every
// discovery.
type monitoringEnumerator[T any] struct {
	*enumerator[T]
}

// Discover lists the prefix and assigns the objects that appeared since the last listing.
func (e *monitoringEnumerator[T]) Discover(ctx context.Context) error {
	if err := e.list(ctx); err != nil {
		return err
	}
	e.assign()
	return nil
}

// DiscoveryInterval is the Monitor interval.
func (e *monitoringEnumerator[T]) DiscoveryInterval() float64 {
	return e.src.cfg.monitor.Seconds()
}
