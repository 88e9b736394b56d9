package examples

import (
	"context"
	"io"
	"slices"
	"strings"
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
