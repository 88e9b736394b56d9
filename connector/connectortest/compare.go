package connectortest

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"
)

// diff compares got and want as multisets and describes the difference: the keys missing from
// got and the keys got has too often (or that want lacks). It returns "" when they are equal.
func diff(got, want []string) string {
	counts := map[string]int{}
	for _, k := range want {
		counts[k]++
	}
	for _, k := range got {
		counts[k]--
	}
	var missing, extra []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		switch c := counts[k]; {
		case c > 0:
			missing = append(missing, fmt.Sprintf("%s×%d", k, c))
		case c < 0:
			extra = append(extra, fmt.Sprintf("%s×%d", k, -c))
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("got %d records, want %d: %d keys missing %s; %d keys duplicated or unexpected %s",
		len(got), len(want), len(missing), head(missing), len(extra), head(extra))
}

// head lists the first few of s.
func head(s []string) string {
	const n = 10
	if len(s) <= n {
		return "[" + strings.Join(s, " ") + "]"
	}
	return "[" + strings.Join(s[:n], " ") + fmt.Sprintf(" … and %d more]", len(s)-n)
}

// goroutines returns the stacks of the live goroutines by goroutine id.
func goroutines() map[string]string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	out := map[string]string{}
	for _, g := range strings.Split(b.String(), "\n\n") {
		m := goroutineID.FindStringSubmatch(g)
		if m != nil {
			out[m[1]] = g
		}
	}
	return out
}

var goroutineID = regexp.MustCompile(`^goroutine (\d+) `)

// ownedElsewhere reports whether a goroutine belongs to the test machinery (a subtest running
// the connector's test function), not to what was closed.
func ownedElsewhere(stack string) bool {
	return strings.Contains(stack, "testing.tRunner") || strings.Contains(stack, "runtime/pprof.")
}

// checkNoLeaks fails t if goroutines not in before with a frame in a connector package are still
// running a few seconds after everything was closed. Goroutines of clients and pools the
// connector uses (franz-go's, the AWS SDK's HTTP connections) have no such frame and are not
// checked: the check catches goroutines the connector itself started and left running.
func checkNoLeaks(t *testing.T, what string, before map[string]string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		for id, g := range goroutines() {
			if _, ok := before[id]; ok || ownedElsewhere(g) {
				continue
			}
			if strings.Contains(g, "runnel-io/runnel/connector/") && !strings.Contains(g, "connector/connectortest.") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%s: %d goroutines of the connector still run 5s after Close; the first:\n%s", what, len(left), left[0])
	}
}
