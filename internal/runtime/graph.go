package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Graph is a job: operators (nodes) connected by edges. The stream package builds it; Run
// executes it. A Graph is not safe for concurrent modification.
type Graph struct {
	Name  string
	Nodes []*Node
}

// Node is one operator of the job graph, run as Parallelism subtasks.
type Node struct {
	ID   int
	Name string
	// UID identifies the node's state across job versions; empty means derived from the graph.
	UID string
	// Parallelism is the number of subtasks; 0 means the job's default.
	Parallelism int
	// NoChain keeps the node out of operator chains (it always runs in a task of its own).
	NoChain bool
	// In holds the type of each input; Out the type of the main output (nil for sinks).
	In  []Type
	Out Type
	// Side holds the types of side outputs by tag.
	Side map[string]Type
	// Inputs are the edges into this node, Outputs the edges out of it (set by Connect).
	Inputs, Outputs []*Edge
	// Keyed says the node consumes hash-partitioned input and keeps keyed state.
	Keyed bool
	// Sink marks nodes that end the graph.
	Sink bool

	// Source is set for source nodes (made with NewSource).
	Source SourceSpec
	// Operator makes the operator of one subtask; it is nil for sources. out is the Output[OUT]
	// to emit into. A single-input operator returns an Instance that is also Output[IN]; a
	// node with several inputs returns one implementing Inputs.
	Operator func(c *Context, out any) (Instance, error)
}

// Instance is one subtask's operator as the runtime sees it.
type Instance interface {
	Control
	// Open is called before the first record, from the task goroutine.
	Open() error
	// Close is called when the task ends, normally or not; it releases resources.
	Close() error
}

// Inputs is implemented by operators with several inputs: Input(i) is the Output[IN_i] that
// receives input i's records.
type Inputs interface {
	Input(i int) any
}

// Edge connects the output of From (or its side output Tag) to input Input of To.
type Edge struct {
	From, To *Node
	Tag      string
	Input    int
	Part     Partitioning
	// Route is the Router[T] of Hash and Custom edges.
	Route any
	// Explicit forbids replacing Forward with Rebalance when the parallelisms differ.
	Explicit bool
}

// Type returns the type of the records on e.
func (e *Edge) Type() Type {
	if e.Tag != "" {
		return e.From.Side[e.Tag]
	}
	return e.From.Out
}

// Add appends a node and gives it an ID.
func (g *Graph) Add(n *Node) *Node {
	n.ID = len(g.Nodes) + 1
	g.Nodes = append(g.Nodes, n)
	return n
}

// Connect adds an edge.
func (g *Graph) Connect(e *Edge) {
	e.From.Outputs = append(e.From.Outputs, e)
	e.To.Inputs = append(e.To.Inputs, e)
}

// Resolve fills in default parallelism (def) and replaces implicit forward edges between
// nodes of different parallelism by rebalancing ones.
func (g *Graph) Resolve(def int) {
	for _, n := range g.Nodes {
		if n.Parallelism <= 0 {
			n.Parallelism = def
		}
	}
	for _, n := range g.Nodes {
		for _, e := range n.Outputs {
			if e.Part == Forward && !e.Explicit && e.From.Parallelism != e.To.Parallelism {
				e.Part = Rebalance
			}
		}
	}
}

// Validate reports what makes the graph impossible to run: no sources, no sinks, a node whose
// output nobody consumes and that is no sink, cycles, type mismatches, forward edges between
// different parallelisms, keyed parallelism above the maximum.
func (g *Graph) Validate(maxParallelism int) error {
	var errs []error
	sources, sinks := 0, 0
	for _, n := range g.Nodes {
		if n.Source != nil {
			sources++
		}
		if n.Sink {
			sinks++
		}
		if n.Source == nil && len(n.Inputs) == 0 {
			errs = append(errs, fmt.Errorf("node %s has no input", n))
		}
		if !n.Sink && len(n.Outputs) == 0 {
			errs = append(errs, fmt.Errorf("the output of %s goes nowhere: add a sink (Print, Collect, Discard, SinkTo)", n))
		}
		if n.Keyed && n.Parallelism > maxParallelism {
			errs = append(errs, fmt.Errorf("%s: parallelism %d exceeds max parallelism %d", n, n.Parallelism, maxParallelism))
		}
		for _, e := range n.Inputs {
			if e.Input >= len(n.In) || e.Type() == nil || e.Type() != n.In[e.Input] {
				want := "nothing"
				if e.Input < len(n.In) {
					want = n.In[e.Input].String()
				}
				errs = append(errs, fmt.Errorf("edge %s -> %s: %v records into an input of %s", e.From, n, e.Type(), want))
			}
			if e.Part == Forward && e.From.Parallelism != n.Parallelism {
				errs = append(errs, fmt.Errorf("forward edge %s -> %s joins parallelism %d to %d", e.From, n, e.From.Parallelism, n.Parallelism))
			}
		}
	}
	if sources == 0 {
		errs = append(errs, errors.New("the job has no source"))
	}
	if sinks == 0 {
		errs = append(errs, errors.New("the job has no sink"))
	}
	if cyc := g.cycle(); cyc != "" {
		errs = append(errs, fmt.Errorf("the graph has a cycle: %s", cyc))
	}
	if len(errs) > 0 {
		return fmt.Errorf("runtime: invalid job graph %q: %w", g.Name, errors.Join(errs...))
	}
	return nil
}

func (g *Graph) cycle() string {
	const (
		white = iota
		grey
		black
	)
	color := map[*Node]int{}
	var path []string
	var visit func(n *Node) bool
	visit = func(n *Node) bool {
		color[n] = grey
		path = append(path, n.String())
		for _, e := range n.Outputs {
			switch color[e.To] {
			case grey:
				path = append(path, e.To.String())
				return true
			case white:
				if visit(e.To) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		color[n] = black
		return false
	}
	for _, n := range g.Nodes {
		if color[n] == white && visit(n) {
			return strings.Join(path, " -> ")
		}
	}
	return ""
}

// String names the node for messages: "name#id".
func (n *Node) String() string { return fmt.Sprintf("%s#%d", n.Name, n.ID) }

// chained reports whether the edge runs inside one task, the consumer called directly.
func chained(e *Edge) bool {
	return e.Part == Forward && len(e.To.Inputs) == 1 && !e.To.NoChain && !e.From.NoChain &&
		e.From.Parallelism == e.To.Parallelism && e.To.Source == nil
}

// Text renders the graph for people: one line per node with its inputs.
func (g *Graph) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %q\n", g.Name)
	for _, n := range g.Nodes {
		kind := "operator"
		switch {
		case n.Source != nil:
			kind = "source"
		case n.Sink:
			kind = "sink"
		}
		fmt.Fprintf(&b, "  %-3d %-8s %s  parallelism=%d", n.ID, kind, n.Name, n.Parallelism)
		if n.Out != nil {
			fmt.Fprintf(&b, " out=%v", n.Out)
		}
		b.WriteString("\n")
		for _, e := range n.Inputs {
			how := e.Part.String()
			if chained(e) {
				how += ", chained"
			}
			tag := ""
			if e.Tag != "" {
				tag = "[" + e.Tag + "]"
			}
			fmt.Fprintf(&b, "        <- %d%s (%s)\n", e.From.ID, tag, how)
		}
	}
	return b.String()
}

// JSON renders the graph for tools and the dashboard.
func (g *Graph) JSON() ([]byte, error) {
	type edge struct {
		From, To    int
		Tag         string `json:",omitempty"`
		Input       int
		Partitioner string
		Chained     bool
	}
	type node struct {
		ID          int
		Name        string
		UID         string `json:",omitempty"`
		Kind        string
		Parallelism int
		Out         string `json:",omitempty"`
	}
	out := struct {
		Name  string
		Nodes []node
		Edges []edge
	}{Name: g.Name}
	for _, n := range g.Nodes {
		kind := "operator"
		switch {
		case n.Source != nil:
			kind = "source"
		case n.Sink:
			kind = "sink"
		}
		nd := node{ID: n.ID, Name: n.Name, UID: n.UID, Kind: kind, Parallelism: n.Parallelism}
		if n.Out != nil {
			nd.Out = n.Out.String()
		}
		out.Nodes = append(out.Nodes, nd)
		for _, e := range n.Inputs {
			out.Edges = append(out.Edges, edge{From: e.From.ID, To: n.ID, Tag: e.Tag, Input: e.Input, Partitioner: e.Part.String(), Chained: chained(e)})
		}
	}
	return json.MarshalIndent(out, "", "  ")
}

// DOT renders the graph in Graphviz's language.
func (g *Graph) DOT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n", g.Name)
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  n%d [label=%q shape=box];\n", n.ID, fmt.Sprintf("%s\np=%d", n.Name, n.Parallelism))
	}
	for _, n := range g.Nodes {
		for _, e := range n.Inputs {
			style := ""
			if chained(e) {
				style = " style=bold"
			}
			fmt.Fprintf(&b, "  n%d -> n%d [label=%q%s];\n", e.From.ID, n.ID, e.Part.String(), style)
		}
	}
	b.WriteString("}\n")
	return b.String()
}
