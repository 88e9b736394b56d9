package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"

	"github.com/runnel-io/runnel/stream"
)

func TestRegistry(t *testing.T) {
	names := Names()
	if want := []string{"clickstream", "iot", "arbitrage", "retail", "kinesis-clicks", "kafka-logs", "s3-backfill"}; !slices.Equal(names, want) {
		t.Errorf("Names() = %v, want %v", names, want)
	}
	for _, e := range All() {
		if e.Summary == "" || e.Build == nil {
			t.Errorf("%s: no summary or no Build", e.Name)
		}
		if got, ok := Lookup(e.Name); !ok || got.Name != e.Name {
			t.Errorf("Lookup(%q) = %q, %v", e.Name, got.Name, ok)
		}
		if e.Generate != nil && !e.Servers {
			t.Errorf("%s generates into a server's source but needs none", e.Name)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) found an example")
	}
}

// TestBuild builds every example that needs no server, with printed and with file output, and
// validates the job: the registry's wiring of flags to jobs, without running them (cmd/runnel's
// tests run them).
func TestBuild(t *testing.T) {
	for _, e := range All() {
		if e.Servers {
			continue
		}
		for _, output := range []string{"", t.TempDir()} {
			a := DefaultArgs()
			a.Events, a.Output, a.Stdout = 100, output, io.Discard
			env := stream.New(e.Name, stream.Config{Parallelism: 2})
			if err := e.Build(context.Background(), env, a); err != nil {
				t.Fatalf("%s (output %q): %v", e.Name, output, err)
			}
			if err := env.Validate(); err != nil {
				t.Errorf("%s (output %q): %v", e.Name, output, err)
			}
		}
	}
}

func TestArgsFlags(t *testing.T) {
	a := DefaultArgs()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	a.AddFlags(fs)
	if err := fs.Parse([]string{"--events", "10", "--s3-endpoint", "", "--kafka-brokers=a:1,b:2", "--show"}); err != nil {
		t.Fatal(err)
	}
	if a.Events != 10 || a.S3Endpoint != "" || !slices.Equal(brokers(a), []string{"a:1", "b:2"}) || !a.Show || a.KinesisEndpoint != DevKinesisEndpoint {
		t.Errorf("parsed %+v", a)
	}
	for _, tc := range []struct {
		a    Args
		want string
	}{
		{Args{Events: -1}, "--events -1 must not be negative"},
		{Args{Rate: -0.5}, "--rate -0.5 must not be negative"},
		{Args{Generate: -3}, "--generate -3 must not be negative"},
	} {
		if err := tc.a.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.a, err, tc.want)
		}
	}
	if err := DefaultArgs().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestPrintedOutput runs the generated examples to their end with printed output and checks
// what a user reads: every line is the output's name and a JSON object whose fields are all
// lowerCamelCase, with enums as names, not numbers.
func TestPrintedOutput(t *testing.T) {
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	var checkKeys func(path string, v any)
	checkKeys = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !camel.MatchString(k) {
					t.Errorf("%s: field %q is not lowerCamelCase", path, k)
				}
				checkKeys(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				checkKeys(path, x)
			}
		}
	}
	enums := map[string][]string{"kind": {"spike", "silent"}, "action": {"raise", "discount"}}
	seen := map[string]bool{}
	// Enough events for every output: iot's first spikes come after 100 rounds of 300 sensors.
	events := map[string]int64{"clickstream": 20000, "iot": 60000, "arbitrage": 3000, "retail": 20000}
	for _, e := range All() {
		if e.Servers {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			var out syncBuffer
			a := DefaultArgs()
			a.Events, a.Stdout = events[e.Name], &out
			env := stream.New(e.Name, stream.Config{Parallelism: 2})
			if err := e.Build(context.Background(), env, a); err != nil {
				t.Fatal(err)
			}
			if err := env.Execute(context.Background()); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) == 0 || lines[0] == "" {
				t.Fatal("printed nothing")
			}
			for _, l := range lines {
				name, js, ok := strings.Cut(l, " ")
				var v map[string]any
				if !ok || name == "" || json.Unmarshal([]byte(js), &v) != nil {
					t.Fatalf("line %q is not a name and a JSON object", l)
				}
				checkKeys(name, v)
				for field, names := range enums {
					if x, ok := v[field]; ok {
						s, _ := x.(string)
						if !slices.Contains(names, s) {
							t.Errorf("%s: %s is %v, want one of %v", name, field, x, names)
						}
						seen[field] = true
					}
				}
			}
		})
	}
	for field := range enums {
		if !seen[field] {
			t.Errorf("no record had a %s: the examples should show their enums", field)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
