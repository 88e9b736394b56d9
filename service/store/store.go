// Package store is the managed service's metadata store: applications, their versions,
// operations and snapshots, as JSON documents under keys, changed only in transactions. The
// Store interface is what the service uses, so a shared store (etcd, for several servers) can
// replace the embedded one; Open returns the embedded one, on bbolt.
package store

import (
	"errors"
	"iter"
)

// ErrNotFound is returned by Tx.Get for a key that holds nothing.
var ErrNotFound = errors.New("store: not found")

// Store is a transactional key-value store of documents. Keys are slash-separated paths
// ("apps/clicks", "ops/clicks/0000000001"); values are opaque bytes (the service stores JSON).
// Implementations are safe for concurrent use; a transaction is used by one goroutine.
type Store interface {
	// Update runs fn in a read-write transaction: fn's writes are applied all together,
	// durably, when fn returns nil, and not at all when it returns an error or the process
	// dies first. Update transactions are serialized.
	Update(fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent state.
	View(fn func(tx Tx) error) error
	// Close closes the store.
	Close() error
}

// Tx is a transaction of a Store.
type Tx interface {
	// Get returns the value of key, or ErrNotFound. The bytes are valid until the transaction
	// ends; copy them to keep them.
	Get(key string) ([]byte, error)
	// Put sets key to value (in a read-write transaction).
	Put(key string, value []byte) error
	// Delete removes key; a missing key is fine.
	Delete(key string) error
	// Scan yields the keys starting with prefix and their values, in key order.
	Scan(prefix string) iter.Seq2[string, []byte]
}
