package store

import (
	"bytes"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucket is the one bbolt bucket keys live in.
var bucket = []byte("runnel")

// Bolt is the embedded Store: one bbolt file. bbolt writes a transaction's pages copy-on-write
// and makes them current with one fsynced meta page, so a kill -9 at any moment leaves the
// state before or after the transaction, never between.
type Bolt struct {
	db  *bolt.DB
	dir string
}

var _ Store = (*Bolt)(nil)

// Open opens (creating it if needed) the store in the file meta.db of dir. Another process
// holding the file makes Open wait up to a second and fail, naming the file: one server per
// data directory.
func Open(dir string) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	path := filepath.Join(dir, "meta.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s (is another server using this data directory?): %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return &Bolt{db: db, dir: dir}, nil
}

// Dir returns the directory of the store.
func (b *Bolt) Dir() string { return b.dir }

// Update implements Store.
func (b *Bolt) Update(fn func(tx Tx) error) error {
	return b.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx.Bucket(bucket)}) })
}

// View implements Store.
func (b *Bolt) View(fn func(tx Tx) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx.Bucket(bucket)}) })
}

// Close implements Store.
func (b *Bolt) Close() error { return b.db.Close() }

type boltTx struct{ b *bolt.Bucket }

func (t boltTx) Get(key string) ([]byte, error) {
	v := t.b.Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	return v, nil
}

func (t boltTx) Put(key string, value []byte) error { return t.b.Put([]byte(key), value) }

func (t boltTx) Delete(key string) error { return t.b.Delete([]byte(key)) }

func (t boltTx) Scan(prefix string) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		c := t.b.Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if !yield(string(k), v) {
				return
			}
		}
	}
}
