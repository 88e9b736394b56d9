package kinesis

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/runnel-io/runnel/connector"
)

// listing is a SourceAPI whose ListShards answers shards, two per page.
type listing struct {
	fakeSourceAPI
	shards []types.Shard
}

func (l *listing) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	from := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &from)
	}
	to := min(from+2, len(l.shards))
	out := &kinesis.ListShardsOutput{Shards: l.shards[from:to]}
	if to < len(l.shards) {
		out.NextToken = aws.String(fmt.Sprint(to))
	}
	return out, nil
}

// add lists a shard with the given parents ("" for none), closed or open.
func (l *listing) add(id, parent, adjacent string, closed bool) {
	s := types.Shard{ShardId: aws.String(id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
	if parent != "" {
		s.ParentShardId = aws.String(parent)
	}
	if adjacent != "" {
		s.AdjacentParentShardId = aws.String(adjacent)
	}
	if closed {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
	}
	l.shards = append(l.shards, s)
}

type recordingCtx struct {
	p        int
	assigned map[int][]string
}

func (c *recordingCtx) Parallelism() int { return c.p }
func (c *recordingCtx) Assign(sub int, splits ...connector.Split) {
	for _, sp := range splits {
		c.assigned[sub] = append(c.assigned[sub], sp.SplitID())
	}
}
func (c *recordingCtx) NoMoreSplits(int)     {}
func (c *recordingCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func (c *recordingCtx) String() string {
	var subs []int
	for s := range c.assigned {
		subs = append(subs, s)
	}
	sort.Ints(subs)
	out := ""
	for _, s := range subs {
		out += fmt.Sprintf("%d:%v ", s, c.assigned[s])
	}
	return out
}

func startEnum(t *testing.T, src *Source, p int, restored []connector.Split) (*enumerator, *recordingCtx) {
	t.Helper()
	c := &recordingCtx{p: p, assigned: map[int][]string{}}
	e, err := src.NewEnumerator(c, restored)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if err := e.AddReader(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	return e.(*enumerator), c
}

func TestEnumeratorAssignsChildrenAfterParents(t *testing.T) {
	l := &listing{}
	l.add("s0", "", "", true)    // split into s2 and s3
	l.add("s1", "", "", false)   //
	l.add("s2", "s0", "", false) //
	l.add("s3", "s0", "", false) //
	src, _ := NewSource(l, SourceConfig{Stream: "x"})
	e, c := startEnum(t, src, 2, nil)
	if got := c.String(); got != "0:[s0] 1:[s1] " {
		t.Fatalf("first assignment %s", got)
	}
	ctx := context.Background()
	_ = e.Discover(ctx)
	if got := c.String(); got != "0:[s0] 1:[s1] " {
		t.Fatalf("children assigned before their parent was read: %s", got)
	}
	e.lin.finish("s0")
	_ = e.Discover(ctx)
	if got := c.String(); got != "0:[s0 s2 s3] 1:[s1] " {
		t.Fatalf("after s0 was read: %s, want its children on its reader", got)
	}

	// A checkpoint now, then s2 and s3 are merged into s4, and the job restores.
	snap, _ := e.Snapshot()
	var blobs [][]byte
	for _, sp := range snap {
		b, err := src.EncodeSplit(sp)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	l.shards[2].SequenceNumberRange.EndingSequenceNumber = aws.String("9")
	l.shards[3].SequenceNumberRange.EndingSequenceNumber = aws.String("9")
	l.add("s4", "s2", "s3", false)
	var restored []connector.Split
	for _, b := range blobs {
		sp, err := src.DecodeSplit(b)
		if err != nil {
			t.Fatal(err)
		}
		restored = append(restored, sp)
	}
	e2, c2 := startEnum(t, src, 2, restored)
	if got := c2.String(); got != "" {
		t.Fatalf("the restored enumerator assigned %s", got)
	}
	e2.lin.finish("s2")
	_ = e2.Discover(ctx)
	if got := c2.String(); got != "" {
		t.Fatalf("s4 assigned with s3 unread: %s", got)
	}
	e2.lin.finish("s3")
	_ = e2.Discover(ctx)
	if got := c2.String(); got != "0:[s4] " {
		t.Fatalf("after the merge's parents were read: %s", got)
	}

	// s0 expires: the enumerator forgets it, and readers may drop its marker.
	l.shards = l.shards[1:]
	_ = e2.Discover(ctx)
	if _, ok := e2.assigned["s0"]; ok || !e2.lin.unlisted("s0") {
		t.Error("the expired s0 is still remembered")
	}
}

func TestEnumeratorLatestSkipsClosedShards(t *testing.T) {
	l := &listing{}
	l.add("s0", "", "", true)
	l.add("s1", "", "", false)
	l.add("s2", "s0", "", false)
	src, _ := NewSource(l, SourceConfig{Stream: "x", Start: StartPosition{Kind: Latest}})
	e, c := startEnum(t, src, 2, nil)
	if got := c.String(); got != "0:[s1] 1:[s2] " {
		t.Fatalf("assigned %s, want the open shards only", got)
	}
	// A later child starts at its beginning, after its parent.
	l.shards[1].SequenceNumberRange.EndingSequenceNumber = aws.String("9")
	l.add("s3", "s1", "", false)
	e.lin.finish("s1")
	_ = e.Discover(context.Background())
	if got := c.String(); got != "0:[s1 s3] 1:[s2] " {
		t.Fatalf("assigned %s", got)
	}
}
