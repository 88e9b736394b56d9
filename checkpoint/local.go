package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// tempPrefix starts the names of Local's temporary files; List skips them.
const tempPrefix = ".runnel-tmp-"

// Local is a Storage in a local directory. A file name maps to the path below the root;
// directories are made as needed and removed when Delete empties them. Create writes a
// temporary file in the target's directory, syncs it, renames it into place and syncs the
// directory, so a file is either whole and durable or absent.
//
// Local is safe for concurrent use. Leftover temporary files of a crashed process are named
// ".runnel-tmp-*"; List ignores them and they may be deleted at any time no process writes.
type Local struct {
	root string
}

var (
	_ Storage     = (*Local)(nil)
	_ RangeOpener = (*Local)(nil)
)

// NewLocal returns the Local storage rooted at dir, creating dir if needed. A relative dir is
// made absolute.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: storage directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: creating storage directory: %w", err)
	}
	return &Local{root: abs}, nil
}

// checkLocal reports whether dir can be a Local root: it creates dir if missing, as NewLocal
// does, then creates a temporary file in it and removes it. Errors wrap ErrUnusableLocation.
func checkLocal(dir string) error {
	abs, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrUnusableLocation, dir, err)
	}
	f, err := os.CreateTemp(abs, tempPrefix+"probe-*")
	if err != nil {
		return fmt.Errorf("%w %s: cannot write in it: %w", ErrUnusableLocation, abs, err)
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrUnusableLocation, abs, err)
	}
	return nil
}

// Location implements Locator: the absolute path of dir below the root.
func (l *Local) Location(dir string) string { return filepath.Join(l.root, filepath.FromSlash(dir)) }

// Root returns the absolute directory of l.
func (l *Local) Root() string { return l.root }

// String returns l's location as a file:// URL.
func (l *Local) String() string { return "file://" + filepath.ToSlash(l.root) }

func (l *Local) path(name string) string { return filepath.Join(l.root, filepath.FromSlash(name)) }

// Create implements Storage.
func (l *Local) Create(ctx context.Context, name string) (FileWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	final := l.path(name)
	dir := filepath.Dir(final)
	// A concurrent Delete may remove the directory between MkdirAll and CreateTemp when it
	// empties it: try again then.
	var f *os.File
	var err error
	for range 3 {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			break
		}
		if f, err = os.CreateTemp(dir, tempPrefix+"*"); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: create %s: %w", name, err)
	}
	return &localWriter{ctx: ctx, name: name, final: final, f: f}, nil
}

// localWriter writes a temporary file and renames it into place on Close.
type localWriter struct {
	ctx   context.Context
	name  string
	final string
	f     *os.File // nil once closed or aborted
	err   error    // the first write error
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("checkpoint: write %s: %w", w.name, os.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = fmt.Errorf("checkpoint: write %s: %w", w.name, err)
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("checkpoint: write %s: %w", w.name, err)
	}
	return n, w.err
}

func (w *localWriter) Close() error {
	if w.f == nil {
		return fmt.Errorf("checkpoint: close %s: %w", w.name, os.ErrClosed)
	}
	f, tmp := w.f, w.f.Name()
	w.f = nil
	err := w.err
	if err == nil {
		err = w.ctx.Err()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, w.final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoint: close %s: %w", w.name, err)
	}
	if err := syncDir(filepath.Dir(w.final)); err != nil {
		return fmt.Errorf("checkpoint: close %s: syncing its directory: %w", w.name, err)
	}
	return nil
}

func (w *localWriter) Abort() error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	f.Close()
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: abort %s: %w", w.name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open implements Storage.
func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := l.openFile(ctx, name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (l *Local) openFile(ctx context.Context, name string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(name))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", name, err)
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("checkpoint: open %s: is a directory, not a file: %w", name, fs.ErrNotExist)
	}
	return f, nil
}

// OpenRange implements RangeOpener.
func (l *Local) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("checkpoint: open %s: invalid range %d+%d: %w", name, offset, length, fs.ErrInvalid)
	}
	f, err := l.openFile(ctx, name)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, length), f}, nil
}

// Stat implements Storage.
func (l *Local) Stat(ctx context.Context, name string) (FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return FileInfo{}, err
	}
	if err := CheckName(name); err != nil {
		return FileInfo{}, err
	}
	st, err := os.Stat(l.path(name))
	if err != nil {
		return FileInfo{}, fmt.Errorf("checkpoint: stat %s: %w", name, err)
	}
	if st.IsDir() {
		return FileInfo{}, fmt.Errorf("checkpoint: stat %s: is a directory, not a file: %w", name, fs.ErrNotExist)
	}
	return FileInfo{Name: name, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// List implements Storage. It walks only the directory the prefix lies in.
func (l *Local) List(ctx context.Context, prefix string) ([]FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir := prefix[:i]
		if CheckName(dir) != nil {
			return nil, nil // no valid name lies below an invalid directory
		}
		start = l.path(dir)
	}
	var out []FileInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the prefix's directory does not exist, or vanished meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			if name != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			if name != "." && !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(path.Base(name), ".") || !strings.HasPrefix(name, prefix) || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		out = append(out, FileInfo{Name: name, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %q in %s: %w", prefix, l.root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete implements Storage. It also removes the directories the deletion empties, up to the
// root.
func (l *Local) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckName(name); err != nil {
		return err
	}
	p := l.path(name)
	if st, err := os.Lstat(p); err == nil && st.IsDir() {
		return nil // a directory is no file: there is nothing of that name to delete
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkpoint: delete %s: %w", name, err)
	}
	for dir := filepath.Dir(p); dir != l.root && strings.HasPrefix(dir, l.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or already gone): leave it and its parents
		}
	}
	return nil
}
