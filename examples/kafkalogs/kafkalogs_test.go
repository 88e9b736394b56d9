package kafkalogs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/runnel-io/runnel/examples/kafkalogs"
	"github.com/runnel-io/runnel/stream"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line, err string
	}{
		{"2026-01-01T00:00:00.25Z ERROR checkout payment declined", ""},
		{"garbage", "got 1 fields"},
		{"yesterday INFO a b", "time"},
		{"2026-01-01T00:00:00Z LOUD a b", "unknown level"},
	} {
		l, err := kafkalogs.Parse([]byte(tc.line))
		if tc.err == "" {
			want := kafkalogs.Log{Time: time.Date(2026, 1, 1, 0, 0, 0, 250e6, time.UTC), Level: "ERROR", Service: "checkout", Message: "payment declined"}
			if err != nil || l != want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.line, l, err, want)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Parse(%q): %v, want an error with %q", tc.line, err, tc.err)
		}
	}
}

func TestLoadOwners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owners.csv")
	if err := os.WriteFile(path, []byte("service,team,owner\ncheckout,pay,ana\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	owners, err := kafkalogs.LoadOwners(path)
	if err != nil || len(owners) != 1 || owners["checkout"] != (kafkalogs.Owner{Team: "pay", Owner: "ana"}) {
		t.Errorf("LoadOwners: %v, %v", owners, err)
	}
}

func execute(ctx context.Context, t *testing.T, name string, build func(env *stream.Env) error) {
	t.Helper()
	env := stream.New(name, stream.Config{Parallelism: 2})
	if err := build(env); err != nil {
		t.Fatal(err)
	}
	if err := env.Execute(ctx); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestJob runs the job, bounded, on 1,000 generated lines in an in-process kfake: the output
// topic holds the 980 good ones enriched, the dead-letter topic the 20 bad ones with their
// reasons, each once and committed; without a dead-letter topic the first bad line fails the
// job.
func TestJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kfake")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "logs", "out", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	execute(ctx, t, "produce", func(env *stream.Env) error {
		return kafkalogs.BuildProducer(env, brokers, "logs", 1000, 50, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	})
	execute(ctx, t, "kafka-logs", func(env *stream.Env) error {
		return kafkalogs.Build(env, kafkalogs.Options{Brokers: brokers, Input: "logs", Output: "out", DeadLetter: "dlq", Bounded: true})
	})

	var out, dlq bytes.Buffer
	execute(ctx, t, "print", func(env *stream.Env) error { return kafkalogs.BuildPrinter(env, brokers, "out", &out) })
	execute(ctx, t, "print", func(env *stream.Env) error { return kafkalogs.BuildPrinter(env, brokers, "dlq", &dlq) })
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e kafkalogs.Enriched // a record's value as it is: no prefix, no quoting
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if seen[e.Message] {
			t.Errorf("%s twice", e.Message)
		}
		seen[e.Message] = true
		if want := kafkalogs.Enrich(e.Log, kafkalogs.DefaultOwners); e != want {
			t.Errorf("got %+v, want %+v", e, want)
		}
	}
	if len(seen) != 980 {
		t.Errorf("%d enriched lines, want 980", len(seen))
	}
	if bad := strings.Split(strings.TrimSpace(dlq.String()), "\n"); len(bad) != 20 || !strings.Contains(bad[0], "garbage line") || !strings.Contains(bad[0], "malformed log record at logs/") {
		t.Errorf("dead letters (%d):\n%s", len(bad), dlq.String())
	}

	env := stream.New("fail", stream.Config{})
	if err := kafkalogs.Build(env, kafkalogs.Options{Brokers: brokers, Input: "logs", Output: "out", Bounded: true, TransactionalIDPrefix: "fail"}); err != nil {
		t.Fatal(err)
	}
	if err := env.Execute(ctx); err == nil || !strings.Contains(err.Error(), "malformed log record at logs/") {
		t.Errorf("without a dead-letter topic: %v, want the malformed line", err)
	}
}
