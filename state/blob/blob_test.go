package blob_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/state"
	"github.com/runnel-io/runnel/state/blob"
)

type rec struct{ key, payload string }

// parse returns the state sections of b as name -> records, and the timers; it skips operator
// sections.
func parse(t testing.TB, b []byte) (map[string][]rec, []string) {
	t.Helper()
	states := map[string][]rec{}
	var timers []string
	err := blob.Sections(b, func(s blob.Section) error {
		if err := blob.Check(s); err != nil {
			return err
		}
		if s.Tag == blob.TagTimers {
			return blob.Timers(s.Body, func(k []byte, at int64, d uint8) error {
				timers = append(timers, string(k))
				return nil
			})
		}
		if s.Tag == blob.TagOperator {
			return nil
		}
		return blob.Records(s.Body, func(k, framed, p []byte) error {
			if !bytes.Equal(framed, blob.AppendKey(nil, k)) {
				t.Errorf("framed key %x is not the frame of %q", framed, k)
			}
			states[s.Name] = append(states[s.Name], rec{string(k), string(p)})
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Sections: %v", err)
	}
	return states, timers
}

func TestWriterAndReaders(t *testing.T) {
	var w blob.Writer
	w.BeginState("v", blob.Value)
	w.Record([]byte("a"), blob.AppendValue(nil, 0, []byte("x")))
	w.Record([]byte(""), blob.AppendValue(nil, -5, nil))
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.BeginState("empty", blob.Map) // no records: dropped
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.BeginState("l", blob.List)
	w.FramedRecord(blob.AppendKey(nil, []byte("k")), blob.AppendItem(blob.AppendItem(nil, 1, []byte("p")), 2, []byte("q")))
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.BeginTimers()
	w.Timer([]byte("k"), 100, 1)
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	states, timers := parse(t, w.Buf)
	if len(states) != 2 || len(states["v"]) != 2 || len(states["l"]) != 1 {
		t.Fatalf("states: %v", states)
	}
	if !slices.Equal(timers, []string{"k"}) {
		t.Fatalf("timers: %v", timers)
	}
	exp, v, err := blob.ParseValue([]byte(states["v"][1].payload))
	if err != nil || exp != -5 || len(v) != 0 {
		t.Fatalf("value payload: %d %q %v", exp, v, err)
	}
	var items []string
	_ = blob.Items([]byte(states["l"][0].payload), func(exp int64, v []byte) error {
		items = append(items, string(v))
		return nil
	})
	if !slices.Equal(items, []string{"p", "q"}) {
		t.Fatalf("items: %v", items)
	}
	// Two blobs of a key group concatenated are a blob.
	both := append(slices.Clone(w.Buf), w.Buf...)
	states, timers = parse(t, both)
	if len(states["v"]) != 4 || len(timers) != 2 {
		t.Fatalf("concatenation: %v %v", states, timers)
	}
	// An empty writer writes nothing.
	var e blob.Writer
	e.BeginTimers()
	if err := e.End(); err != nil || len(e.Buf) != 0 {
		t.Fatalf("empty timer section: %x, %v", e.Buf, err)
	}
}

func TestLive(t *testing.T) {
	now := int64(100)
	v, live, err := blob.Live(nil, blob.Value, blob.AppendValue(nil, 100, []byte("x")), now)
	if err != nil || live || len(v) != 0 {
		t.Fatalf("expired value: %x %v %v", v, live, err)
	}
	v, live, _ = blob.Live(nil, blob.Value, blob.AppendValue(nil, 0, []byte("x")), now)
	if !live || !bytes.Equal(v, blob.AppendValue(nil, 0, []byte("x"))) {
		t.Fatal("a value without expiry is not live")
	}
	list := blob.AppendItem(blob.AppendItem(blob.AppendItem(nil, 50, []byte("old")), 0, []byte("keep")), 101, []byte("new"))
	v, live, _ = blob.Live(nil, blob.List, list, now)
	want := blob.AppendItem(blob.AppendItem(nil, 0, []byte("keep")), 101, []byte("new"))
	if !live || !bytes.Equal(v, want) {
		t.Fatalf("list: %x, want %x", v, want)
	}
	m := blob.AppendMapItem(blob.AppendMapItem(nil, []byte("a"), 1, []byte("x")), []byte("b"), 2, []byte("y"))
	if _, live, _ := blob.Live(nil, blob.Map, m, now); live {
		t.Fatal("a map whose entries all expired is live")
	}
	if _, _, err := blob.Live(nil, blob.List, []byte{2, 9}, now); !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("corrupt list: %v", err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[blob.Kind]string{blob.Value: "value", blob.List: "list", blob.Map: "map", 9: "kind(9)"} {
		if k.String() != want {
			t.Errorf("%d: %q", k, k.String())
		}
	}
}

// FuzzSections checks that no input makes the readers panic, and that a blob that reads
// cleanly is rebuilt identically from what was read.
func FuzzSections(f *testing.F) {
	var w blob.Writer
	w.BeginState("v", blob.Value)
	w.Record([]byte("a"), blob.AppendValue(nil, 3, []byte("x")))
	_ = w.End()
	w.BeginState("m", blob.Map)
	w.Record([]byte("a"), blob.AppendMapItem(nil, []byte("k"), 0, []byte("v")))
	_ = w.End()
	w.BeginState("l", blob.List)
	w.Record([]byte("b"), blob.AppendItem(nil, 0, []byte("v")))
	_ = w.End()
	w.BeginTimers()
	w.Timer([]byte("a"), -1, 0)
	_ = w.End()
	w.BeginOperator("window")
	w.Raw([]byte{1, 2, 3})
	_ = w.End()
	f.Add(w.Buf)
	f.Add([]byte{})
	f.Add([]byte{blob.TagOperator, 1, 'w', 0, 0, 0, 1, 7})
	f.Add([]byte{blob.TagState, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := rewrite(b)
		if err != nil {
			if !errors.Is(err, blob.ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		// What reads cleanly rewrites into a blob that reads cleanly, and rewriting that
		// changes nothing (the first rewrite drops empty sections and normalises varints).
		again, err := rewrite(out)
		if err != nil {
			t.Fatalf("rewritten blob does not read: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("rewriting is not stable:\n%x\n%x", out, again)
		}
	})
}

// rewrite reads every section of b, checking every payload as each kind, and writes what it
// read with a Writer.
func rewrite(b []byte) ([]byte, error) {
	var out blob.Writer
	err := blob.Sections(b, func(s blob.Section) error {
		if err := blob.Check(s); err != nil {
			return err
		}
		if s.Tag == blob.TagTimers {
			out.BeginTimers()
			_ = blob.Timers(s.Body, func(k []byte, at int64, d uint8) error {
				out.Timer(k, at, d)
				return nil
			})
			return out.End()
		}
		if s.Tag == blob.TagOperator {
			out.BeginOperator(s.Name)
			out.Raw(s.Body)
			return out.End()
		}
		out.BeginState(s.Name, s.Kind)
		_ = blob.Records(s.Body, func(k, _, p []byte) error {
			for _, kind := range []blob.Kind{blob.Value, blob.List, blob.Map} {
				_, _, _ = blob.Live(nil, kind, p, 0)
			}
			out.Record(k, p)
			return nil
		})
		return out.End()
	})
	return out.Buf, err
}

func TestOperatorSections(t *testing.T) {
	var w blob.Writer
	w.BeginState("v", blob.Value)
	w.Record([]byte("a"), blob.AppendValue(nil, 0, []byte("x")))
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.BeginOperator("window")
	w.Raw([]byte("opaque \x00\xff bytes"))
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.BeginOperator("empty") // no body: dropped
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	w.BeginTimers()
	w.Timer([]byte("a"), 7, 1)
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	type sec struct {
		tag  byte
		name string
		body string
	}
	var got []sec
	err := blob.Sections(w.Buf, func(s blob.Section) error {
		if err := blob.Check(s); err != nil {
			return err
		}
		got = append(got, sec{s.Tag, s.Name, string(s.Body)})
		return nil
	})
	if err != nil {
		t.Fatalf("Sections: %v", err)
	}
	if len(got) != 3 || got[1] != (sec{blob.TagOperator, "window", "opaque \x00\xff bytes"}) ||
		got[0].tag != blob.TagState || got[2].tag != blob.TagTimers {
		t.Fatalf("sections: %q", got)
	}
	// The other readers skip it.
	states, timers := parse(t, w.Buf)
	if len(states) != 1 || len(states["v"]) != 1 || len(timers) != 1 {
		t.Fatalf("states %v, timers %v", states, timers)
	}
	for _, bad := range [][]byte{
		{blob.TagOperator},                     // no name
		{blob.TagOperator, 5, 'w'},             // name cut short
		{blob.TagOperator, 1, 'w', 0, 0},       // length cut short
		{blob.TagOperator, 1, 'w', 0, 0, 0, 2}, // body cut short
	} {
		if err := blob.Sections(bad, func(blob.Section) error { return nil }); !errors.Is(err, blob.ErrCorrupt) {
			t.Errorf("%x: %v, want ErrCorrupt", bad, err)
		}
	}
}

// TestBackendsSkipOperatorSections checks that the memory backend restores the state sections of
// a blob that also holds an operator section, and ignores the latter.
func TestBackendsSkipOperatorSections(t *testing.T) {
	var w blob.Writer
	w.BeginOperator("window")
	w.Raw([]byte{0xff, 0xfe})
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	codec := state.CodecFor[string]()
	w.BeginState("v", blob.Value)
	w.Record(codec.Append(nil, "k"), blob.AppendValue(nil, 0, state.CodecFor[int]().Append(nil, 42)))
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	m := state.NewMemory()
	keys := &state.Keys[string]{First: 0, Count: 4}
	if err := m.Restore(2, w.Buf); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	v := state.NewValue[string, int](m, keys, state.Descriptor{Name: "v"})
	keys.Key, keys.Group = "k", 2
	if got, ok := v.Value(); !ok || got != 42 {
		t.Fatalf("restored value: %v %v, want 42", got, ok)
	}
}
