package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
	"github.com/runnel-io/runnel/stream"
)

// payment is what the job reads; version 2 of the producer's schema added a field the job does
// not know.
type payment struct {
	ID     int    `json:"id"`
	Payer  string `json:"payer"`
	Amount int64  `json:"amount"`
}

type paymentV2 struct {
	payment
	Channel string `json:"channel"`
}

const (
	paymentV1Schema = `{"type":"record","name":"Payment","namespace":"com.example","fields":[
		{"name":"id","type":"long"},{"name":"payer","type":"string"},{"name":"amount","type":"long"}]}`
	paymentV2Schema = `{"type":"record","name":"Payment","namespace":"com.example","fields":[
		{"name":"id","type":"long"},{"name":"payer","type":"string"},{"name":"amount","type":"long"},
		{"name":"channel","type":"string","default":"web"}]}`
)

// TestAvroSchemaRegistrySource reads Confluent-framed Avro values, written with two versions of
// the producer's schema, through a decoded source and a Schema Registry: every record arrives
// once, a record that is not Avro goes to the dead letter, and while the registry is down the
// job fails under the dead-letter policy too, with nothing dead-lettered.
func TestAvroSchemaRegistrySource(t *testing.T) {
	c := newCluster(t, 2, "payments")
	var down atomic.Bool
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		schemas := map[string]string{"/schemas/ids/1": paymentV1Schema, "/schemas/ids/2": paymentV2Schema}
		s, ok := schemas[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": s})
	}))
	defer reg.Close()

	v1, err := avro.NewEncoder[payment](avro.Options{Schema: paymentV1Schema, Framing: avro.Confluent, SchemaID: 1})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := avro.NewEncoder[paymentV2](avro.Options{Schema: paymentV2Schema, Framing: avro.Confluent, SchemaID: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl := client(t, c)
	var recs []*kgo.Record
	for i := range 200 {
		p := payment{ID: i, Payer: "p" + strings.Repeat("x", i%7), Amount: int64(i * 100)}
		var value []byte
		if i%2 == 0 {
			value, err = v1.Append(nil, p)
		} else {
			value, err = v2.Append(nil, paymentV2{payment: p, Channel: "app"})
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: c.topic("payments"), Key: []byte{byte(i)}, Value: value})
	}
	recs = append(recs, &kgo.Record{Topic: c.topic("payments"), Value: []byte(`{"id": 7}`)})
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	dec, err := avro.NewDecoder[payment](avro.Options{Framing: avro.Confluent, Registry: &avro.RegistryClient{URL: reg.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var dead []*format.RecordError
	run := func() ([]payment, error) {
		src, err := kafka.NewDecodedSource(kafka.SourceConfig{
			Cluster: c.Cluster, Topics: []string{c.topic("payments")}, Bounded: true,
			Policy: format.DeadLetter, DeadLetter: func(e *format.RecordError) error {
				mu.Lock()
				defer mu.Unlock()
				dead = append(dead, e)
				return nil
			},
		}, func(r *kafka.Record) (payment, error) {
			var p payment
			return p, dec.Unmarshal(r.Value, &p)
		})
		if err != nil {
			t.Fatal(err)
		}
		env := stream.New("avro-payments", stream.Config{Parallelism: 2})
		got := stream.Collect(stream.FromSource(env, src, eventtime.Monotonous(func(payment) int64 { return 0 })))
		err = env.Execute(context.Background())
		return got.Values(), err
	}

	down.Store(true)
	_, err = run()
	if err == nil || !errors.Is(err, format.ErrUnavailable) || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Fatalf("job error %v, want the registry's unavailability", err)
	}
	t.Logf("registry down: %v", err)
	if len(dead) != 0 {
		t.Fatalf("%d records dead-lettered while the registry was down", len(dead))
	}

	down.Store(false)
	got, err := run()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b payment) int { return a.ID - b.ID })
	if len(got) != 200 {
		t.Fatalf("%d payments, want 200", len(got))
	}
	for i, p := range got {
		if p.ID != i || p.Amount != int64(i*100) || p.Payer != "p"+strings.Repeat("x", i%7) {
			t.Fatalf("payment %d is %+v", i, p)
		}
	}
	if len(dead) != 1 || string(dead[0].Raw) != `{"id": 7}` || !strings.Contains(dead[0].Error(), "magic byte 123, want 0") {
		t.Fatalf("dead letters %v, want the one JSON record", dead)
	}
}
