package avro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registry gives the writer schema, as JSON, of a schema ID found in a record's Confluent
// header. An ID the registry does not know gives an error wrapping ErrUnknownSchema; any other
// error is taken to mean the registry could not be reached, and is retried on a later record.
type Registry interface {
	Schema(ctx context.Context, id int) (string, error)
}

// ErrUnknownSchema is wrapped by a Registry's error for an ID it does not know.
var ErrUnknownSchema = errors.New("avro: unknown schema ID")

// MemoryRegistry is a Registry of schemas given in code, by ID.
type MemoryRegistry map[int]string

// Schema implements Registry.
func (m MemoryRegistry) Schema(_ context.Context, id int) (string, error) {
	s, ok := m[id]
	if !ok {
		return "", fmt.Errorf("%w %d", ErrUnknownSchema, id)
	}
	return s, nil
}

// RegistryClient reads schemas from a Confluent-compatible Schema Registry over its REST API
// (GET /schemas/ids/{id}). Apicurio's and AWS Glue's Confluent-compatible endpoints serve the same
// API. The zero value is not usable: set URL.
type RegistryClient struct {
	// URL is the registry's base URL, e.g. "http://127.0.0.1:8081" or
	// "https://psrc-xxxx.eu-west-1.aws.confluent.cloud".
	URL string
	// Username and Password, when Username is set, are sent as HTTP basic authentication (a
	// Confluent Cloud API key and secret).
	Username, Password string
	// HTTPClient makes the requests; nil uses one with a 10 s timeout.
	HTTPClient *http.Client
}

var defaultHTTPClient = &http.Client{Timeout: 10 * time.Second}

// Schema implements Registry.
func (c *RegistryClient) Schema(ctx context.Context, id int) (string, error) {
	u, err := url.JoinPath(c.URL, "schemas", "ids", strconv.Itoa(id))
	if err != nil {
		return "", fmt.Errorf("avro: schema registry URL %q: %w", c.URL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("avro: schema registry URL %q: %w", c.URL, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("avro: schema registry: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("avro: schema registry: GET %s: reading the response: %w", u, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return "", fmt.Errorf("%w %d (GET %s: %s)", ErrUnknownSchema, id, u, registryMessage(body))
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("avro: schema registry: GET %s: %s: %s", u, resp.Status, registryMessage(body))
	}
	var out struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("avro: schema registry: GET %s: decoding the response: %w", u, err)
	}
	if out.SchemaType != "" && !strings.EqualFold(out.SchemaType, "AVRO") {
		return "", fmt.Errorf("%w %d: it is a %s schema, not Avro", ErrUnknownSchema, id, out.SchemaType)
	}
	if out.Schema == "" {
		return "", fmt.Errorf("avro: schema registry: GET %s: no schema in the response", u)
	}
	return out.Schema, nil
}

// registryMessage returns the message of a registry's error body ({"error_code":…,
// "message":…}), or the body itself, shortened.
func registryMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// schemaCache holds what a Decoder resolved per schema ID. Found schemas and IDs the registry
// does not know are kept; failures to reach the registry are not, so a later record asks again.
type schemaCache struct {
	mu  sync.Mutex
	ids map[int]*resolved
}

func (c *schemaCache) get(id int) (*resolved, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.ids[id]
	return r, ok
}

func (c *schemaCache) put(id int, r *resolved) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[int]*resolved{}
	}
	c.ids[id] = r
}
