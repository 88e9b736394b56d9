package filesystem

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Local is the local file system. Its names are absolute, clean paths. A file is written as the
// hidden file ".<base>.inprogress" beside its name, renamed to ".<base>.pending" when finished
// (after an fsync of the file and then of the directory) and to its name at Commit (then the
// directory is synced again), so a crash at any point leaves either hidden files, which
// readers skip, or the complete file. Directories Create makes are synced into their parents.
//
// The zero Local is ready to use and holds nothing; it is safe for concurrent use.
type Local struct{}

var _ FS = Local{}

const (
	hiddenPrefix  = "."
	inProgressExt = ".inprogress"
	pendingExt    = ".pending"
	bufferSize    = 64 << 10
)

// Resolve returns path made absolute and clean.
func (Local) Resolve(path string) (string, error) {
	if path == "" {
		return "", errors.New("filesystem: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("filesystem: %s: %w", path, err)
	}
	return abs, nil
}

// List implements FS. It leaves out the hidden files of uncommitted writes
// (".<base>.inprogress", ".<base>.pending"), and files removed while listing.
func (Local) List(ctx context.Context, name string, recursive bool) ([]FileInfo, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("filesystem: listing %s: %w", name, err)
	}
	if !st.IsDir() {
		if st.Mode().IsRegular() && !uncommitted(filepath.Base(name)) {
			return []FileInfo{localInfo(name, st)}, nil
		}
		return nil, nil
	}
	var out []FileInfo
	err = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != name && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != name && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || uncommitted(d.Name()) {
			return nil
		}
		st, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, localInfo(p, st))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("filesystem: listing %s: %w", name, err)
	}
	slices.SortFunc(out, func(a, b FileInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// uncommitted reports whether base is the name of an in-progress or pending file.
func uncommitted(base string) bool {
	return strings.HasPrefix(base, hiddenPrefix) && (strings.HasSuffix(base, inProgressExt) || strings.HasSuffix(base, pendingExt))
}

func localInfo(name string, st fs.FileInfo) FileInfo {
	return FileInfo{Name: name, Size: st.Size(), ModTime: st.ModTime()}
}

// Open implements FS. Local files have no versions: f.Version is not checked.
func (Local) Open(ctx context.Context, f FileInfo, offset int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(f.Name)
	if err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	if offset > 0 {
		if _, err := file.Seek(offset, io.SeekStart); err != nil {
			_ = file.Close()
			return nil, fmt.Errorf("filesystem: %s: seeking to offset %d: %w", f.Name, offset, err)
		}
	}
	return file, nil
}

// OpenReaderAt implements FS with the open file.
func (Local) OpenReaderAt(ctx context.Context, f FileInfo) (ReaderAt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(f.Name)
	if err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	st, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	return localReaderAt{file, st.Size()}, nil
}

type localReaderAt struct {
	*os.File
	size int64
}

func (r localReaderAt) Size() int64 { return r.size }

// Create implements FS: it creates the hidden in-progress file beside name, failing if it or
// name exists already.
func (Local) Create(ctx context.Context, name string) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(name)
	if base == "" || !filepath.IsAbs(name) || filepath.Clean(name) != name {
		return nil, fmt.Errorf("filesystem: creating %q: not an absolute, clean path of a file", name)
	}
	dir = filepath.Clean(dir)
	if err := mkdirAll(dir); err != nil {
		return nil, fmt.Errorf("filesystem: creating directory for %s: %w", name, err)
	}
	// A visible or pending file of the same name is another writer's: finishing would
	// overwrite its pending file.
	for _, p := range []string{name, filepath.Join(dir, hiddenPrefix+base+pendingExt)} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("filesystem: creating %s: %s: %w", name, p, fs.ErrExist)
		}
	}
	tmp := filepath.Join(dir, hiddenPrefix+base+inProgressExt)
	// O_EXCL: an existing in-progress file means something else writes the same name.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filesystem: creating %s: %w", name, err)
	}
	return &localWriter{name: name, tmp: tmp, f: f, bw: bufio.NewWriterSize(f, bufferSize)}, nil
}

// mkdirAll is os.MkdirAll that also syncs the parent of every directory it creates, so the
// new directories survive a crash with the files later made durable in them.
func mkdirAll(dir string) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made by another writer meanwhile
		}
		return err
	}
	return syncDir(parent)
}

// localWriter writes the in-progress file tmp of name.
type localWriter struct {
	name, tmp string
	f         *os.File
	bw        *bufio.Writer
	n         int64
	done      bool
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("filesystem: writing %s: %w", w.name, os.ErrClosed)
	}
	n, err := w.bw.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("filesystem: writing %s: %w", w.tmp, err)
	}
	return n, nil
}

func (w *localWriter) Size() int64 { return w.n }

// Finish flushes, fsyncs and closes the in-progress file, renames it to its pending name and
// syncs the directory.
func (w *localWriter) Finish() (Pending, error) {
	if w.done {
		return Pending{}, fmt.Errorf("filesystem: finishing %s: %w", w.name, os.ErrClosed)
	}
	w.done = true
	dir, base := filepath.Split(w.name)
	pending := filepath.Join(dir, hiddenPrefix+base+pendingExt)
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, pending)
	}
	if err == nil {
		err = syncDir(filepath.Clean(dir))
	}
	if err != nil {
		_ = os.Remove(w.tmp)
		_ = os.Remove(pending)
		return Pending{}, fmt.Errorf("filesystem: finishing %s: %w", w.name, err)
	}
	r := localRecord{Pending: pending, Final: w.name, Size: w.n}
	return r.pending(), nil
}

func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close() // abandoned: its content does not matter
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filesystem: aborting %s: %w", w.name, err)
	}
	return nil
}

// localRecord is the Data of a Local Pending: JSON of the hidden pending file, the final name
// and the size. (The file connector's committables of earlier versions are exactly this.)
type localRecord struct {
	Pending string `json:"pending"`
	Final   string `json:"final"`
	Size    int64  `json:"size"`
}

func (r localRecord) pending() Pending {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // strings and an integer always marshal
	}
	return Pending{Name: r.Final, Size: r.Size, ID: r.Pending, Data: b}
}

// DecodePending implements FS. It checks that the data names a hidden pending file and its
// final name in the same directory, both absolute and clean.
func (Local) DecodePending(data []byte) (Pending, error) {
	var r localRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return Pending{}, fmt.Errorf("filesystem: decoding pending file %q: %w", data, err)
	}
	pdir, pbase := filepath.Split(r.Pending)
	fdir, fbase := filepath.Split(r.Final)
	if !filepath.IsAbs(r.Final) || filepath.Clean(r.Final) != r.Final || filepath.Clean(r.Pending) != r.Pending ||
		pdir != fdir || !strings.HasPrefix(pbase, hiddenPrefix) || !strings.HasSuffix(pbase, pendingExt) ||
		fbase == "" || r.Size < 0 {
		return Pending{}, fmt.Errorf("filesystem: %q does not name a pending file and its final name in one directory", data)
	}
	p := r.pending()
	p.Data = data
	return p, nil
}

// Commit implements FS: it renames the pending file to its name and syncs the directory.
func (l Local) Commit(ctx context.Context, p Pending) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := l.DecodePending(p.Data)
	if err != nil {
		return err
	}
	pst, perr := os.Stat(p.ID)
	fst, ferr := os.Lstat(p.Name)
	switch {
	case perr == nil:
		if pst.Size() != p.Size {
			return fmt.Errorf("filesystem: pending file %s has %d bytes, the checkpoint recorded %d", p.ID, pst.Size(), p.Size)
		}
		if ferr == nil {
			return fmt.Errorf("filesystem: %w: %s already exists; not overwriting it with %s", ErrMismatch, p.Name, p.ID)
		}
		if !errors.Is(ferr, fs.ErrNotExist) {
			return fmt.Errorf("filesystem: %w", ferr)
		}
		if err := os.Rename(p.ID, p.Name); err != nil {
			return fmt.Errorf("filesystem: renaming pending file to final: %w", err)
		}
		return syncDir(filepath.Dir(p.Name))
	case !errors.Is(perr, fs.ErrNotExist):
		return fmt.Errorf("filesystem: %w", perr)
	case ferr == nil:
		if fst.Size() != p.Size {
			return fmt.Errorf("filesystem: %w: %s has %d bytes, the checkpoint recorded %d", ErrMismatch, p.Name, fst.Size(), p.Size)
		}
		return nil // committed before
	case errors.Is(ferr, fs.ErrNotExist):
		return fmt.Errorf("filesystem: %w: neither pending file %s nor final file %s exists", ErrMissing, p.ID, p.Name)
	default:
		return fmt.Errorf("filesystem: %w", ferr)
	}
}

// Abort implements FS: it deletes the hidden file p.ID.
func (Local) Abort(ctx context.Context, p Pending) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, base := filepath.Split(p.ID)
	if !strings.HasPrefix(base, hiddenPrefix) || filepath.Clean(dir) != filepath.Dir(p.Name) {
		return fmt.Errorf("filesystem: aborting %s: %q is not its hidden file", p.Name, p.ID)
	}
	if err := os.Remove(p.ID); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filesystem: aborting %s: %w", p.Name, err)
	}
	return nil
}

// ListPending implements FS: the hidden in-progress and pending files below dir. A dir that
// does not exist holds none.
func (Local) ListPending(ctx context.Context, dir string) ([]Pending, error) {
	var out []Pending
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		base := d.Name()
		if d.IsDir() || !strings.HasPrefix(base, hiddenPrefix) {
			return nil
		}
		for _, ext := range []string{inProgressExt, pendingExt} {
			if name, ok := strings.CutSuffix(base[len(hiddenPrefix):], ext); ok && name != "" {
				out = append(out, Pending{Name: filepath.Join(filepath.Dir(p), name), Size: -1, ID: p,
					InProgress: ext == inProgressExt})
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("filesystem: listing the pending files below %s: %w", dir, err)
	}
	return out, nil
}

// Delete implements FS.
func (Local) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filesystem: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory, making the names created or renamed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
