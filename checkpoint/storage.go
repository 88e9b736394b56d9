package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Storage holds the files of checkpoints and savepoints below one root, with the semantics of
// an object store: a flat namespace of slash-separated names ("chk-7/_metadata"), files written
// whole and atomically, no directories of their own. The implementations are Local and S3;
// Open picks one by URL.
//
// Names are relative and clean (fs.ValidPath), not ".", and no element starts with "." (those
// are reserved for the implementations' temporary files). Methods return an error wrapping
// fs.ErrInvalid for other names.
//
// Implementations are safe for concurrent use; the readers and writers they return are not.
// The conformance suite in checkpointtest checks these rules for any implementation.
type Storage interface {
	// Create starts writing the file name. Nothing is visible under name until Close returns
	// nil; then the whole file is, durably, replacing any earlier file of that name. Abort,
	// a failed Write, a failed Close, or ctx ending before Close leave no trace under name.
	// ctx governs the whole write (like gocloud.dev's blob writers, the writer keeps it).
	Create(ctx context.Context, name string) (FileWriter, error)
	// Open opens the file name for reading. A missing file is an error wrapping
	// fs.ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat describes the file name; a missing file is an error wrapping fs.ErrNotExist.
	Stat(ctx context.Context, name string) (FileInfo, error)
	// List returns the files whose names start with prefix (a plain string prefix, not a
	// directory: "chk-1" also matches "chk-12/x"), sorted by name. The empty prefix lists
	// everything.
	List(ctx context.Context, prefix string) ([]FileInfo, error)
	// Delete deletes the file name. Deleting a file that does not exist succeeds.
	Delete(ctx context.Context, name string) error
}

// FileWriter writes one file of a Storage; see Storage.Create.
type FileWriter interface {
	io.WriteCloser
	// Abort discards what was written; nothing becomes visible. It returns nil after Close
	// already succeeded or failed, doing nothing then.
	Abort() error
}

// RangeOpener is the optional capability of a Storage that reads part of a file without
// reading what precedes it (a ranged GET on S3, a seek locally). OpenRange uses it.
type RangeOpener interface {
	// OpenRange opens length bytes of the file name from offset. Reading past the end of
	// the file is not an error of OpenRange: the reader just ends early.
	OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error)
}

// FileInfo describes a file of a Storage.
type FileInfo struct {
	// Name is the file's name in the Storage.
	Name    string
	Size    int64
	ModTime time.Time
}

// OpenRange opens length bytes of the file name of st from offset, through RangeOpener when st
// implements it, else by reading and discarding the first offset bytes.
func OpenRange(ctx context.Context, st Storage, name string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("checkpoint: open %s: invalid range %d+%d: %w", name, offset, length, fs.ErrInvalid)
	}
	if ro, ok := st.(RangeOpener); ok {
		return ro.OpenRange(ctx, name, offset, length)
	}
	rc, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, offset); err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, fmt.Errorf("checkpoint: open %s at %d: %w", name, offset, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length), rc}, nil
}

// WriteFile writes data as the file name of st, atomically.
func WriteFile(ctx context.Context, st Storage, name string, data []byte) error {
	w, err := st.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Close()
}

// ReadFile reads the whole file name of st, refusing files over limit bytes (limit <= 0: no
// limit).
func ReadFile(ctx context.Context, st Storage, name string, limit int64) ([]byte, error) {
	rc, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if limit > 0 {
		r = io.LimitReader(rc, limit+1)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("checkpoint: read %s: %w", name, err)
	}
	if limit > 0 && int64(buf.Len()) > limit {
		return nil, fmt.Errorf("checkpoint: read %s: larger than %d bytes", name, limit)
	}
	return buf.Bytes(), nil
}

// ErrUnsupportedScheme is wrapped by the errors of Open and CheckLocation for a URL whose
// scheme has no storage.
var ErrUnsupportedScheme = errors.New("checkpoint: unsupported storage scheme")

// ErrUnusableLocation is wrapped by the error of CheckLocation for a location that cannot hold
// snapshots: a local path that is a file or lies below one, a local directory this process
// cannot create or write in, a malformed URL.
var ErrUnusableLocation = errors.New("checkpoint: unusable storage location")

// Scheme is how a program opens storages of one URL scheme, such as package
// checkpoint/s3's for s3:// URLs.
type Scheme struct {
	// Open opens the Storage at rawURL, a URL of the scheme.
	Open func(ctx context.Context, rawURL string) (Storage, error)
	// Check reports, without contacting the store, whether rawURL is a well-formed URL of the
	// scheme; nil checks nothing.
	Check func(rawURL string) error
}

// Schemes are the storages a program can open by URL besides local directories, by URL
// scheme in lower case: checkpoint.Schemes{"s3": s3.Scheme()}. A program links only the
// storages it names. The zero Schemes opens local directories only.
type Schemes map[string]Scheme

// Open returns the Storage for a URL: a plain path or a file:// URL (file:///abs/path, or
// file://localhost/abs/path) opens a Local directory, created if missing; a URL of a scheme
// in s opens through its Scheme. Other schemes fail with an error wrapping
// ErrUnsupportedScheme that names the schemes s knows.
func (s Schemes) Open(ctx context.Context, rawURL string) (Storage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, sc, err := s.parse(rawURL)
	switch {
	case err != nil:
		return nil, err
	case sc != nil:
		return sc.Open(ctx, rawURL)
	}
	return NewLocal(dir)
}

// Open opens a local directory: Schemes(nil).Open.
func Open(ctx context.Context, rawURL string) (Storage, error) { return Schemes(nil).Open(ctx, rawURL) }

// CheckLocation reports whether rawURL, as Open takes it, can hold snapshots, as far as that is
// cheap to tell without contacting a remote store: the runtime checks a savepoint's target with
// it before the job is asked for the savepoint. A local directory is created if missing, as
// Open would, and a temporary file is created in it and removed again. A URL of another scheme
// is checked by its Scheme's Check; Open then checks that the store can be reached.
// CheckLocation returns an error wrapping ErrUnsupportedScheme for a scheme s does not know,
// one wrapping ErrUnusableLocation for a location that cannot be used, and ctx's error if ctx
// has ended.
func (s Schemes) CheckLocation(ctx context.Context, rawURL string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, sc, err := s.parse(rawURL)
	if err == nil && sc != nil {
		if sc.Check != nil {
			err = sc.Check(rawURL)
		}
		if err == nil {
			return nil
		}
	}
	switch {
	case errors.Is(err, ErrUnsupportedScheme):
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnusableLocation, err)
	}
	return checkLocal(dir)
}

// parse parses a URL as Open takes it: it returns the directory of a local location, or the
// Scheme of another.
func (s Schemes) parse(rawURL string) (dir string, sc *Scheme, err error) {
	if rawURL == "" {
		return "", nil, errors.New("checkpoint: empty storage URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // one letter: a Windows drive
		return rawURL, nil, nil
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return "", nil, fmt.Errorf("checkpoint: file URL %q names host %q: only local files are supported", rawURL, u.Host)
		}
		if u.Path == "" {
			return "", nil, fmt.Errorf("checkpoint: file URL %q has no path", rawURL)
		}
		return filepath.FromSlash(u.Path), nil, nil
	}
	if found, ok := s[scheme]; ok && found.Open != nil {
		return "", &found, nil
	}
	known := "a local path or a file:// URL"
	if len(s) > 0 {
		var names []string
		for name := range s {
			names = append(names, name+"://")
		}
		slices.Sort(names)
		known += ", or a URL of " + strings.Join(names, ", ")
	}
	return "", nil, fmt.Errorf("%w %q in %q: use %s", ErrUnsupportedScheme, u.Scheme, rawURL, known)
}

// Locator is the optional capability of a Storage to name its directories as URLs that
// Schemes.Open opens again. Location uses it.
type Locator interface {
	// Location returns the location of directory dir of the storage: an absolute path, or a
	// URL; dir "" names the storage itself.
	Location(dir string) string
}

// Location returns the location of directory dir of st as Open takes it back: st's own
// Location when st is a Locator, else the storage's String() (or a placeholder) joined with
// dir.
func Location(st Storage, dir string) string {
	if l, ok := st.(Locator); ok {
		return l.Location(dir)
	}
	name := "checkpoint-storage"
	if s, ok := st.(fmt.Stringer); ok {
		name = s.String()
	}
	if dir == "" {
		return name
	}
	return name + "/" + dir
}

// CheckName returns an error wrapping fs.ErrInvalid if name is not a valid Storage name (see
// Storage). Implementations call it first.
func CheckName(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("checkpoint: invalid file name %q: %w", name, fs.ErrInvalid)
	}
	for _, e := range strings.Split(name, "/") {
		if strings.HasPrefix(e, ".") {
			return fmt.Errorf("checkpoint: invalid file name %q: elements must not start with a dot: %w", name, fs.ErrInvalid)
		}
	}
	return nil
}

// CheckLocation checks a local location: Schemes(nil).CheckLocation.
func CheckLocation(ctx context.Context, rawURL string) error {
	return Schemes(nil).CheckLocation(ctx, rawURL)
}
