package runtime

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestValidate builds graphs that cannot run and checks that Validate names the problem.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		build func(g *Graph)
		want  []string
	}{
		{
			name: "valid",
			build: func(g *Graph) {
				s := addSource(g, "src", 2, 10)
				m := addOp(g, "map", 2, mapOp(func(v int) int { return v }))
				connect(g, s, m, Forward)
				connect(g, m, addSink(g, "sink", 3, &results[int]{}), Rebalance)
			},
		},
		{
			name: "no sink",
			build: func(g *Graph) {
				s := addSource(g, "src", 1, 10)
				connect(g, s, addOp(g, "map", 1, mapOp(func(v int) int { return v })), Forward)
			},
			want: []string{"the output of map#2 goes nowhere", "the job has no sink"},
		},
		{
			name: "no source",
			build: func(g *Graph) {
				m := addOp(g, "orphan", 1, mapOp(func(v int) int { return v }))
				connect(g, m, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			want: []string{"node orphan#1 has no input", "the job has no source"},
		},
		{
			name: "cycle",
			build: func(g *Graph) {
				s := addSource(g, "src", 1, 10)
				a := addOp(g, "a", 1, mapOp(func(v int) int { return v }))
				b := addOp(g, "b", 1, mapOp(func(v int) int { return v }))
				connect(g, s, a, Rebalance)
				connect(g, a, b, Rebalance)
				connect(g, b, a, Rebalance)
				connect(g, b, addSink(g, "sink", 1, &results[int]{}), Forward)
			},
			want: []string{"the graph has a cycle: src#1 -> a#2 -> b#3 -> a#2"},
		},
		{
			name: "type mismatch",
			build: func(g *Graph) {
				s := addSource(g, "src", 1, 10)
				connect(g, s, addSink(g, "strings", 1, &results[string]{}), Forward)
			},
			want: []string{"edge src#1 -> strings#2: int records into an input of string"},
		},
		{
			name: "input index out of range",
			build: func(g *Graph) {
				s := addSource(g, "src", 1, 10)
				g.Connect(&Edge{From: s, To: addSink(g, "sink", 1, &results[int]{}), Input: 1})
			},
			want: []string{"edge src#1 -> sink#2: int records into an input of nothing"},
		},
		{
			name: "forward edge between different parallelisms",
			build: func(g *Graph) {
				s := addSource(g, "src", 2, 10)
				g.Connect(&Edge{From: s, To: addSink(g, "sink", 3, &results[int]{}), Part: Forward, Explicit: true})
			},
			want: []string{"forward edge src#1 -> sink#2 joins parallelism 2 to 3"},
		},
		{
			name: "keyed parallelism above max parallelism",
			build: func(g *Graph) {
				s := addSource(g, "src", 1, 10)
				k := addOp(g, "keyed", 200, mapOp(func(v int) int { return v }))
				k.Keyed = true
				connect(g, s, k, Rebalance)
				connect(g, k, addSink(g, "sink", 200, &results[int]{}), Forward)
			},
			want: []string{"keyed#2: parallelism 200 exceeds max parallelism 128"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &Graph{Name: c.name}
			c.build(g)
			g.Resolve(1)
			err := g.Validate(128)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("valid graph: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.HasPrefix(err.Error(), "runtime: invalid job graph ") {
				t.Errorf("error lacks its prefix: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	g := &Graph{Name: "resolve"}
	s := addSource(g, "src", 0, 10)
	m := addOp(g, "map", 0, mapOp(func(v int) int { return v }))
	k := addSink(g, "sink", 3, &results[int]{})
	implicit := connect(g, s, m, Forward)
	toSink := connect(g, m, k, Forward)
	g.Resolve(2)
	if s.Parallelism != 2 || m.Parallelism != 2 || k.Parallelism != 3 {
		t.Fatalf("parallelism: src %d, map %d, sink %d; want 2, 2, 3", s.Parallelism, m.Parallelism, k.Parallelism)
	}
	if implicit.Part != Forward {
		t.Errorf("forward edge between equal parallelisms became %v", implicit.Part)
	}
	if toSink.Part != Rebalance {
		t.Errorf("implicit forward edge from 2 to 3 subtasks is %v, want REBALANCE", toSink.Part)
	}
	if err := g.Validate(128); err != nil {
		t.Fatal(err)
	}
	if !chained(implicit) || chained(toSink) {
		t.Errorf("chained: src->map %v (want true), map->sink %v (want false)", chained(implicit), chained(toSink))
	}
}

// TestChaining checks which edges run inside one task and how many tasks a job has.
func TestChaining(t *testing.T) {
	g := &Graph{Name: "chaining"}
	s := addSource(g, "src", 2, 10)
	a := addOp(g, "a", 2, mapOp(func(v int) int { return v }))
	b := addOp(g, "b", 2, mapOp(func(v int) int { return v }))
	b.NoChain = true
	c := addOp(g, "c", 3, mapOp(func(v int) int { return v }))
	u := addOp(g, "union", 3, mapOp(func(v int) int { return v }))
	k := addSink(g, "sink", 3, &results[int]{})
	edges := map[string]*Edge{
		"src->a":    connect(g, s, a, Forward),   // chained
		"a->b":      connect(g, a, b, Forward),   // b does not chain
		"b->c":      connect(g, b, c, Rebalance), // exchange
		"c->union":  connect(g, c, u, Forward),   // two inputs: an exchange
		"a->union":  connect(g, a, u, Rebalance),
		"union->sk": connect(g, u, k, Forward), // chained
	}
	want := map[string]bool{"src->a": true, "a->b": false, "b->c": false, "c->union": false, "a->union": false, "union->sk": true}
	g.Resolve(1)
	if err := g.Validate(128); err != nil {
		t.Fatal(err)
	}
	for name, e := range edges {
		if chained(e) != want[name] {
			t.Errorf("%s: chained = %v, want %v", name, chained(e), want[name])
		}
	}
	j := &job{g: g, cfg: &Config{}, ctx: t.Context()}
	cfg := j.cfg.withDefaults()
	j.cfg = &cfg
	if err := j.build(); err != nil {
		t.Fatal(err)
	}
	// src+a (2) + b (2) + c (3) + union+sink (3)
	if len(j.tasks) != 10 {
		t.Fatalf("%d tasks, want 10", len(j.tasks))
	}
	// c->union is forward (one channel per union subtask) and a->union rebalances from 2
	// producers, so each union subtask has 3 input channels of BufferBatches batches.
	for i, ib := range j.inboxes[u.ID] {
		if cap(ib) != 3*cfg.BufferBatches {
			t.Errorf("union subtask %d: inbox capacity %d, want %d", i, cap(ib), 3*cfg.BufferBatches)
		}
	}
}

func TestGraphJSON(t *testing.T) {
	g := &Graph{Name: "json"}
	s := addSource(g, "src", 1, 10)
	connect(g, s, addSink(g, "sink", 1, &results[int]{}), Forward)
	b, err := g.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Name  string
		Nodes []struct{ ID int }
		Edges []struct{ Chained bool }
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != "json" || len(out.Nodes) != 2 || len(out.Edges) != 1 || !out.Edges[0].Chained {
		t.Fatalf("unexpected JSON: %s", b)
	}
}
