package file

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Part names: part-<subtask>-<attempt>-<token>-<n><suffix>, where the token starts with the
// Sink's run token.

// partName is a parsed part name.
type partName struct {
	subtask, attempt int
	run              string // the first runTokenLen characters of the token: the Sink's
}

// runTokenLen is the length of the part of a name's token that a Sink draws once (hex), so
// that its committer recognises the parts of its own job run; a writer appends its own random
// hex to it.
const runTokenLen = 8

// parsePartName parses the base name of a part file, with or without its suffix (the hidden
// files of earlier versions of the sink were named without it); ok is false for any other
// name.
func parsePartName(base string) (n partName, ok bool) {
	rest, found := strings.CutPrefix(base, "part-")
	if !found {
		return n, false
	}
	f := strings.SplitN(rest, "-", 4)
	if len(f) != 4 {
		return n, false
	}
	// The counter is the leading digits; the suffix follows.
	digits := len(f[3]) - len(strings.TrimLeft(f[3], "0123456789"))
	var err1, err2 error
	n.subtask, err1 = strconv.Atoi(f[0])
	n.attempt, err2 = strconv.Atoi(f[1])
	if len(f[2]) > runTokenLen {
		n.run = f[2][:runTokenLen]
	}
	return n, err1 == nil && err2 == nil && digits > 0
}

// baseName returns the last element of a name.
func baseName(name string) string { return path.Base(name) }

// checkBucket returns an error unless bucket is "" or a relative, slash-separated path without
// empty, "." or ".." elements or backslashes, so that it stays below the sink's directory on
// every file system.
func checkBucket(bucket string) error {
	if bucket == "" {
		return nil
	}
	for seg := range strings.SplitSeq(bucket, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.Contains(seg, `\`) {
			return fmt.Errorf("file: bucket %q is not a relative path of non-empty elements (no \".\", \"..\" or \"\\\")", bucket)
		}
	}
	return nil
}
