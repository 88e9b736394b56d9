// Package state is keyed state: the handles user functions read and write, and the contract
// (SPI) that state backends implement.
//
// # For users
//
// Keyed state belongs to the key of the record (or timer) being processed: a KeyedProcess
// function that reads a Value sees the value of the current key only; the runtime sets the
// current key before it calls user code. The handles are Value, List, Map, Reducing and
// Aggregating, made in a function's Open with stream.NewValueState and its siblings from a
// Descriptor (the state's name, unique in the operator, and an optional TTL). Values are
// stored as Go values by the in-memory backend and encoded (Codec, CodecFor) by backends that
// keep bytes. Handles are owned by the subtask that made them and are not safe for concurrent
// use.
//
// State lives in key groups (package keygroup): a checkpoint stores it per key group and a
// restore at another parallelism hands key groups to other subtasks.
//
// # For backend implementers
//
// A backend stores the keyed state of one operator subtask. A job names a BackendFactory
// (nil: NewMemory); the factory gets a BackendContext (operator, subtask, key groups, the
// files to restore) and returns a Backend. The two kinds:
//
//   - object backends keep Go values: Memory, this package's, with copy-on-write snapshots;
//   - bytes backends (BytesBackend, TableSpec, BytesTable) keep encoded keys and values in an
//     ordered key space: package statebackend/pebble is one, and code outside this module can
//     write another against these types alone.
//
// Snapshots go through Snapshotter and the per-key-group format of package state/blob, so
// state moves between backends and parallelisms; a backend that keeps its state in files can
// also take incremental file snapshots (FileCheckpointer). Package state/statetest is the
// conformance suite every backend passes.
package state
