package avro_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runnel-io/runnel/format"
	"github.com/runnel-io/runnel/format/avro"
)

// Order is the reader's type; the writer schemas below are other versions of it, named as a
// Java producer would name them.
type Order struct {
	ID       int64   `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`   // added in v2
	Coupon   *string `json:"coupon"`   // added in v2
	Lines    []int32 `json:"lines"`    // added in v2
	Priority int32   `json:"priority"` // v3 writes it as an int, v4 as a string
}

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
		{"name":"id","type":"long"},{"name":"customer","type":"string"}]}`
	orderV3 = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
		{"name":"id","type":"long"},{"name":"customer","type":"string"},
		{"name":"amount","type":"double"},{"name":"coupon","type":["null","string"]},
		{"name":"lines","type":{"type":"array","items":"int"}},{"name":"priority","type":"int"},
		{"name":"channel","type":"string"}]}`
	orderV4 = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
		{"name":"id","type":"long"},{"name":"priority","type":"string"}]}`
)

// body encodes v with writerSchema through an Encoder of a type that matches it.
func body[T any](t *testing.T, writerSchema string, id int, v T) []byte {
	t.Helper()
	enc, err := avro.NewEncoder[T](avro.Options{Schema: writerSchema, Framing: avro.Confluent, SchemaID: id})
	if err != nil {
		t.Fatal(err)
	}
	b, err := enc.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSchemaEvolution(t *testing.T) {
	type v1 struct {
		ID       int64  `json:"id"`
		Customer string `json:"customer"`
	}
	type v3 struct {
		Order
		Channel string `json:"channel"`
	}
	type v4 struct {
		ID       int64  `json:"id"`
		Priority string `json:"priority"`
	}
	reg := avro.MemoryRegistry{1: orderV1, 3: orderV3, 4: orderV4}
	dec, err := avro.NewDecoder[Order](avro.Options{Framing: avro.Confluent, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	// v1 lacks the fields added later: they take their defaults (the zero values).
	got, rerr := dec.Decode(body(t, orderV1, 1, v1{ID: 1, Customer: "ann"}), format.Position{})
	if rerr != nil {
		t.Fatal(rerr)
	}
	if got.ID != 1 || got.Customer != "ann" || got.Amount != 0 || got.Coupon != nil || len(got.Lines) != 0 || got.Priority != 0 {
		t.Fatalf("v1 record decoded as %+v", got)
	}
	// A writer schema named otherwise than the Go type: the derived reader schema takes its name.
	renamed := strings.Replace(orderV1, `"name":"Order"`, `"name":"OrderPlaced"`, 1)
	reg[5] = renamed
	got, rerr = dec.Decode(body(t, renamed, 5, v1{ID: 5, Customer: "cy"}), format.Position{})
	if rerr != nil || got.ID != 5 || got.Customer != "cy" {
		t.Fatalf("renamed record decoded as %+v, %v", got, rerr)
	}
	// v3 has a field the reader lacks (channel): it is skipped.
	in := v3{Order: Order{ID: 3, Customer: "bob", Amount: 9.5, Coupon: ptr("X"), Lines: []int32{4, 5}, Priority: 2}, Channel: "web"}
	got, rerr = dec.Decode(body(t, orderV3, 3, in), format.Position{})
	if rerr != nil {
		t.Fatal(rerr)
	}
	if got.ID != 3 || got.Customer != "bob" || got.Amount != 9.5 || *got.Coupon != "X" || len(got.Lines) != 2 || got.Lines[1] != 5 || got.Priority != 2 {
		t.Fatalf("v3 record decoded as %+v", got)
	}
	// v4 changes a field's type incompatibly: every such record fails, naming the ID.
	_, rerr = dec.Decode(body(t, orderV4, 4, v4{ID: 4, Priority: "high"}), format.Position{Source: "orders/0", Offset: 12})
	if rerr == nil || !strings.Contains(rerr.Error(), "schema ID 4 cannot be read as avro_test.Order") || errors.Is(rerr, format.ErrUnavailable) {
		t.Fatalf("v4 record: error %v, want one naming schema ID 4", rerr)
	}
	t.Log(rerr)
}

// registry is a Schema Registry REST API in miniature: GET /schemas/ids/{id}.
type registry struct {
	schemas map[string]string
	calls   atomic.Int64
	down    atomic.Bool
	auth    string
}

func (r *registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	if r.down.Load() {
		http.Error(w, `{"error_code":50001,"message":"store is not initialized"}`, http.StatusInternalServerError)
		return
	}
	if u, p, _ := req.BasicAuth(); r.auth != "" && u+":"+p != r.auth {
		http.Error(w, `{"error_code":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	id, ok := strings.CutPrefix(req.URL.Path, "/schemas/ids/")
	s, found := r.schemas[id]
	if !ok || !found {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema ` + id + ` not found"}`))
		return
	}
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	_ = json.NewEncoder(w).Encode(map[string]string{"schema": s})
}

func TestRegistryClient(t *testing.T) {
	reg := &registry{schemas: map[string]string{"1": orderV1}, auth: "key:secret"}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	client := &avro.RegistryClient{URL: srv.URL + "/", Username: "key", Password: "secret"}
	dec, err := avro.NewDecoder[Order](avro.Options{Framing: avro.Confluent, Registry: client})
	if err != nil {
		t.Fatal(err)
	}
	type v1 struct {
		ID       int64  `json:"id"`
		Customer string `json:"customer"`
	}
	rec := body(t, orderV1, 1, v1{ID: 1, Customer: "ann"})
	unknown := append([]byte{0, 0, 0, 0, 2}, rec[5:]...)

	// The registry is down: the records fail as unavailable, which no policy dead-letters, and
	// the failure is not kept.
	reg.down.Store(true)
	_, rerr := dec.Decode(rec, format.Position{Source: "orders/1", Offset: 5})
	if rerr == nil || !errors.Is(rerr, format.ErrUnavailable) || !strings.Contains(rerr.Error(), "500 Internal Server Error: store is not initialized") {
		t.Fatalf("error %v, want an unavailable registry", rerr)
	}
	t.Log(rerr)
	if err := format.DeadLetter.Handle(rerr, func(*format.RecordError) error { t.Fatal("dead-lettered"); return nil }); err == nil {
		t.Fatal("DeadLetter handled an unavailable registry")
	}
	reg.down.Store(false)
	for range 3 {
		got, rerr := dec.Decode(rec, format.Position{})
		if rerr != nil || got.ID != 1 || got.Customer != "ann" {
			t.Fatalf("decoded %+v, %v", got, rerr)
		}
		_, rerr = dec.Decode(unknown, format.Position{})
		if rerr == nil || errors.Is(rerr, format.ErrUnavailable) || !strings.Contains(rerr.Error(), "unknown schema ID 2") || !strings.Contains(rerr.Error(), "Schema 2 not found") {
			t.Fatalf("error %v, want an unknown schema ID 2", rerr)
		}
	}
	// One failed call, then one per ID: found and unknown IDs are cached.
	if n := reg.calls.Load(); n != 3 {
		t.Fatalf("%d registry calls, want 3", n)
	}

	// Wrong credentials are a failure to reach the registry, not the record's fault.
	bad, err := avro.NewDecoder[Order](avro.Options{Framing: avro.Confluent, Registry: &avro.RegistryClient{URL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if _, rerr := bad.Decode(rec, format.Position{}); rerr == nil || !errors.Is(rerr, format.ErrUnavailable) || !strings.Contains(rerr.Error(), "401 Unauthorized") {
		t.Fatalf("error %v, want an unauthorized registry", rerr)
	}
	// So is a registry that cannot be reached at all.
	srv.Close()
	gone, _ := avro.NewDecoder[Order](avro.Options{Framing: avro.Confluent, Registry: &avro.RegistryClient{URL: srv.URL}})
	if _, rerr := gone.Decode(rec, format.Position{}); rerr == nil || !errors.Is(rerr, format.ErrUnavailable) {
		t.Fatalf("error %v, want an unreachable registry", rerr)
	}
}

func TestMemoryRegistry(t *testing.T) {
	_, err := avro.MemoryRegistry{}.Schema(context.Background(), 3)
	if !errors.Is(err, avro.ErrUnknownSchema) {
		t.Fatalf("error %v, want ErrUnknownSchema", err)
	}
}
