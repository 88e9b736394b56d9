package kafka

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one Kafka record, as a Source reads it and a Sink writes it. A Record a source
// emits owns its byte slices: downstream operators may keep them.
type Record struct {
	Key, Value []byte
	Headers    []Header
	// Timestamp is the record's timestamp (create or log-append time). A sink writes the
	// stream timestamp when it is zero.
	Timestamp time.Time
	// Topic is where the record was read; for a sink, where to write it (empty: the sink's
	// default topic).
	Topic string
	// Partition is where the record was read. A sink ignores it unless its partitioner says
	// otherwise.
	Partition int32
	// Offset is the record's offset in its partition; a sink ignores it.
	Offset int64
}

// Header is a record header. Keys need not be unique.
type Header struct {
	Key   string
	Value []byte
}

// Position returns "topic/partition", the format.Position Source of errors about the record.
func (r *Record) position() string { return r.Topic + "/" + strconv.Itoa(int(r.Partition)) }

func fromKgo(kr *kgo.Record) Record {
	r := Record{
		Key:       kr.Key,
		Value:     kr.Value,
		Timestamp: kr.Timestamp,
		Topic:     kr.Topic,
		Partition: kr.Partition,
		Offset:    kr.Offset,
	}
	if len(kr.Headers) > 0 {
		r.Headers = make([]Header, len(kr.Headers))
		for i, h := range kr.Headers {
			r.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

func (r *Record) toKgo(defaultTopic string, ts int64) *kgo.Record {
	kr := &kgo.Record{Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition, Timestamp: r.Timestamp}
	if kr.Topic == "" {
		kr.Topic = defaultTopic
	}
	if kr.Timestamp.IsZero() && ts != 0 {
		kr.Timestamp = time.UnixMilli(ts)
	}
	if len(r.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return kr
}
