package pebble

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/runnel-io/runnel/keygroup"
)

// Defaults of Options.
const (
	// DefaultCacheSize is the default block cache size: 8 MiB.
	DefaultCacheSize = 8 << 20
	// DefaultMemTableSize is the default memtable size: 4 MiB (two may exist at once).
	DefaultMemTableSize = 4 << 20
)

// maxKeyGroups is the number of key groups a uint16 key-group prefix can address, and the
// largest max parallelism Runnel allows.
const maxKeyGroups = 1 << 15

// Options configure a Backend. The zero value of every field but Dir and Range is a default.
type Options struct {
	// Dir is the working directory of the database, created if missing. It may hold a
	// database already (a restart, or files put there by RestoreFiles). Required.
	Dir string
	// Range is the key groups the subtask owns. Required.
	Range keygroup.Range
	// CacheSize is the size in bytes of the block cache, which with the memtables bounds the
	// backend's memory. Default DefaultCacheSize.
	CacheSize int64
	// MemTableSize is the size in bytes of a memtable; at most two exist at a time, one being
	// flushed. Default DefaultMemTableSize.
	MemTableSize uint64
	// Logger receives Pebble's log lines. nil discards them.
	Logger *slog.Logger
}

// Validate reports what is wrong with o, if anything.
func (o *Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("pebble: Options.Dir is empty"))
	}
	if o.Range.Len() <= 0 || o.Range.Start < 0 || o.Range.End > maxKeyGroups {
		errs = append(errs, fmt.Errorf("pebble: Options.Range %v is not a non-empty range within [0,%d)", o.Range, maxKeyGroups))
	}
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("pebble: Options.CacheSize %d is negative", o.CacheSize))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// logger adapts a *slog.Logger to Pebble's Logger.
type logger struct{ l *slog.Logger }

func (l logger) Infof(format string, args ...any)  { l.l.Info(fmt.Sprintf(format, args...)) }
func (l logger) Errorf(format string, args ...any) { l.l.Error(fmt.Sprintf(format, args...)) }

// Fatalf is called by Pebble for invariant violations it cannot continue after.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error(msg)
	panic("pebble: " + msg)
}
