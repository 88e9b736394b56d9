package format_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/format"
)

// TestHandle checks each policy, and that a record whose decoder could not reach what it needs
// fails the job under every policy instead of reaching the dead letter.
func TestHandle(t *testing.T) {
	bad := format.NewRecordError("avro", format.Position{Source: "t/0", Offset: 3}, "", []byte{1}, errors.New("truncated"))
	down := format.NewRecordError("avro", format.Position{Source: "t/0", Offset: 4}, "", []byte{2},
		fmt.Errorf("schema ID 7: %w: connection refused", format.ErrUnavailable))
	var dead []*format.RecordError
	deadLetter := func(e *format.RecordError) error { dead = append(dead, e); return nil }

	if err := format.Fail.Handle(bad, deadLetter); err != bad {
		t.Fatalf("Fail: %v, want the record error", err)
	}
	if err := format.DeadLetter.Handle(bad, deadLetter); err != nil || len(dead) != 1 || dead[0] != bad {
		t.Fatalf("DeadLetter: %v, dead letters %v", err, dead)
	}
	if err := format.DeadLetter.Handle(bad, nil); !errors.Is(err, format.ErrNoDeadLetter) {
		t.Fatalf("DeadLetter without an output: %v", err)
	}
	for _, p := range []format.Policy{format.Fail, format.DeadLetter} {
		if err := p.Handle(down, deadLetter); err != down {
			t.Fatalf("%v of an unavailable dependency: %v, want the record error", p, err)
		}
	}
	if msg := down.Error(); !strings.HasPrefix(msg, "format: cannot decode avro record at t/0 offset 4: schema ID 7: ") {
		t.Fatalf("error %q, want it to say the record could not be decoded, not that it is malformed", msg)
	}
	if len(dead) != 1 {
		t.Fatalf("dead letters %v, want only the malformed record", dead)
	}
}
