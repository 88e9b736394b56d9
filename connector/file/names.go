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
	state            partState
}

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
	return n, err1 == nil && err2 == nil && err3 == nil
}
