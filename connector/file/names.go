package file

import (
	"strconv"
	"strings"
)

const (
	hiddenPrefix  = "."
	inProgressExt = ".inprogress"
	pendingExt    = ".pending"
)

type partState int

const (
	stateInProgress partState = iota
	statePending
)

// partName is a parsed hidden part-file name: .part-<subtask>-<attempt>-<token>-<n>.<state>.
type partName struct {
	subtask, attempt int
	run              string // the first runTokenLen characters of the token: the Sink's
	state            partState
}

// runTokenLen is the length of the part of a name's token that a Sink draws once (hex), so
// that its committer recognises the parts of its own job run; a writer appends its own random
// hex to it.
const runTokenLen = 8

// parsePartName parses the base name of a hidden part file; ok is false for any other name.
func parsePartName(name string) (n partName, ok bool) {
	rest, found := strings.CutPrefix(name, hiddenPrefix+"part-")
	if !found {
		return n, false
	}
	if r, found := strings.CutSuffix(rest, inProgressExt); found {
		rest, n.state = r, stateInProgress
	} else if r, found := strings.CutSuffix(rest, pendingExt); found {
		rest, n.state = r, statePending
	} else {
		return n, false
	}
	f := strings.Split(rest, "-")
	if len(f) != 4 {
		return n, false
	}
	var err1, err2, err3 error
	n.subtask, err1 = strconv.Atoi(f[0])
	n.attempt, err2 = strconv.Atoi(f[1])
	_, err3 = strconv.ParseUint(f[3], 10, 64)
	if len(f[2]) > runTokenLen {
		n.run = f[2][:runTokenLen]
	}
	return n, err1 == nil && err2 == nil && err3 == nil
}
