// Package pebble is the disk state backend: the keyed state of one operator subtask in one
// Pebble database in a local working directory, so state may be far larger than memory. It
// implements state.BytesBackend, so the handles of package state (Value, List, Map, Reducing,
// Aggregating, with TTL) work over it unchanged, storing values through their codecs.
//
// # Key layout
//
//	[key group: uint16 big-endian][state id: uvarint][key: str]            Value, List
//	[key group: uint16 big-endian][state id: uvarint][key: str][map key]   Map
//	0xff 's' [state name]  ->  [state id: uvarint][kind: byte]             state registry
//
// key is the state key's encoding framed as a str (uvarint length, bytes; blob.AppendKey), so
// keys are prefix-free and the entries of one key of a Map state are one contiguous range.
// Values are the payloads of package state/blob: expiry then value for Value states and Map
// entries; expiry-and-value elements, appended with Pebble's concatenating merge operator, for
// List states. A key group is a contiguous range of the key space: full snapshots iterate it,
// restores at another parallelism copy it.
//
// # Snapshots and checkpoints
//
//   - Full snapshots (Snapshot, Restore) write and read the backend-independent per-key-group
//     blobs of package state/blob, from a Pebble snapshot taken at once and read on another
//     goroutine: savepoints, and any restore at another parallelism or into another backend.
//   - Incremental checkpoints (Checkpoint) flush the memtable and hard-link the database's
//     immutable files into a directory; Files says which are SSTs that an earlier checkpoint
//     may already have uploaded. RestoreFiles reopens such a file set (same key groups, or a
//     superset: the rest is deleted), hard-linking the SSTs when they are local files;
//     RestoreRange copies the key groups a subtask owns out of another subtask's checkpoint
//     (rescaling).
//
// The write-ahead log is off and nothing in the working directory is synced to disk
// (noSyncFS): checkpoints, not the database, make state durable (the checkpoint storage syncs
// what it stores), and a failed subtask restores from the last checkpoint into a fresh
// directory. Memory use is bounded by Options.CacheSize plus
// two memtables of Options.MemTableSize, whatever the state's size.
//
// A Backend belongs to the goroutine of its subtask, like its handles; Snapshots may be
// serialised on another goroutine.
package pebble
