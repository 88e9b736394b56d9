package snapshot

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// The layout of a checkpoint root (see docs/CHECKPOINTS.md):
//
//	<root>/chk-<id>/...           a checkpoint's own files, named by the task that wrote them
//	<root>/chk-<id>/_metadata     written last: the checkpoint exists only if this file does
//	<root>/shared/<name>          files of incremental checkpoints, shared between checkpoints
//
// and of a savepoint directory:
//
//	<dir>/savepoint-<id>-<random>/...         self-contained: every file of the savepoint
//	<dir>/savepoint-<id>-<random>/_metadata   written last
const (
	// MetadataFile is the name of a snapshot's metadata file in its directory.
	MetadataFile = "_metadata"
	// SharedDir is the directory, below a checkpoint root, of the files incremental
	// checkpoints share.
	SharedDir = "shared"
)

// CheckpointDir returns the directory of checkpoint id below a checkpoint root: "chk-<id>".
func CheckpointDir(id int64) string { return "chk-" + strconv.FormatInt(id, 10) }

// ParseCheckpointDir returns the ID of a directory named by CheckpointDir.
func ParseCheckpointDir(dir string) (int64, bool) {
	s, ok := strings.CutPrefix(dir, "chk-")
	if !ok {
		return 0, false
	}
	return parseID(s)
}

// SavepointDir returns the directory of savepoint id below a savepoint location:
// "savepoint-<id>-<random>". random keeps two jobs that save into one location apart; it must
// be a non-empty run of letters and digits.
func SavepointDir(id int64, random string) string {
	return fmt.Sprintf("savepoint-%d-%s", id, random)
}

// NewSavepointDir returns SavepointDir(id, r) with r 12 random hex digits.
func NewSavepointDir(id int64) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return SavepointDir(id, hex.EncodeToString(b[:]))
}

// ParseSavepointDir returns the ID of a directory named by SavepointDir. Only the last element
// of dir counts, so a savepoint keeps its ID wherever it is copied.
func ParseSavepointDir(dir string) (int64, bool) {
	s, ok := strings.CutPrefix(path.Base(dir), "savepoint-")
	if !ok {
		return 0, false
	}
	idStr, random, ok := strings.Cut(s, "-")
	if !ok || random == "" || strings.ContainsFunc(random, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return 0, false
	}
	return parseID(idStr)
}

// SharedFile returns the Storage name of the shared file name (as listed in KeyedState.Shared)
// below a checkpoint root.
func SharedFile(name string) string { return SharedDir + "/" + name }

// MetadataPath returns the Storage name of the metadata file of the snapshot in dir.
func MetadataPath(dir string) string { return path.Join(dir, MetadataFile) }

func parseID(s string) (int64, bool) {
	if s == "" || s[0] == '0' || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
