// Package filesystem is the file-system SPI the file connectors stand on, as Flink's FileSource
// and FileSink stand on its FileSystem: an FS lists files, reads them (streamed from an offset
// or at random for Parquet), and writes new files that stay invisible until they are committed,
// which is what makes a sink exactly once. Local (this package) is the local file system;
// connector/s3's FS is Amazon S3 and S3-compatible stores; filesystemtest holds the conformance
// suite both pass.
//
// # Names
//
// A name is what an FS calls a file or a directory: an absolute, clean path for Local, an
// "s3://bucket/key" URL for S3. Names use '/' between their elements, so a connector joins a
// directory and a relative path with "/" and never needs to know which FS it has; Resolve turns
// what a user configured into a name.
//
// # Writing: in-progress, pending, committed
//
// Create starts a file that no List or Open sees. Writer.Finish makes it durable but still
// invisible, and describes it in a Pending: the name it will get, its size, and Data, the bytes
// a checkpoint keeps to commit it later, from another process if need be. Commit makes it
// visible under its name, atomically and idempotently: committing it again, after a crash
// between the commit and the checkpoint that recorded it, is no error. Abort discards it.
// ListPending finds what crashed writers left behind (in-progress and pending files), for
// clean-up. On Local an in-progress file is a hidden file renamed to another hidden name when
// finished and to its name at commit; on S3 it is a multipart upload, completed at commit.
package filesystem

import (
	"context"
	"errors"
	"io"
	"time"
)

// FS is a file system or object store. Implementations are safe for concurrent use. Methods
// that take a name return an error naming it; a file that does not exist is an error wrapping
// fs.ErrNotExist.
type FS interface {
	// Resolve returns the name of what a user configured: a path made absolute and clean
	// (Local), an "s3://bucket/prefix" URL checked and without a trailing slash (S3). It does
	// no I/O, and returns an error for what cannot be a name of this FS.
	Resolve(path string) (string, error)
	// List returns the files at or below name, sorted by name: the file name itself if it is
	// one, else the files below the directory (or key prefix) name, at any depth if recursive,
	// else only those directly below it. Hidden names are listed too; skipping them is the
	// caller's choice. A name with nothing below it lists nothing on an object store and fails
	// with fs.ErrNotExist on Local.
	List(ctx context.Context, name string, recursive bool) ([]FileInfo, error)
	// Open returns f's content from offset to its end; an offset at or past the end reads
	// nothing. When f.Version is set, Open reads that version only: a file replaced since it
	// was listed fails with ErrChanged, at Open or while reading. The caller closes the reader.
	Open(ctx context.Context, f FileInfo, offset int64) (io.ReadCloser, error)
	// OpenReaderAt returns f for random access (Parquet reads its footer, then column
	// chunks), pinned to f.Version as Open is; f.Size < 0 means unknown. ctx bounds every
	// read through it, so it belongs to the caller's goroutine for as long as ctx lives.
	OpenReaderAt(ctx context.Context, f FileInfo) (ReaderAt, error)
	// Create starts writing the file name, invisible until committed; it creates missing
	// directories. ctx bounds every write of the Writer, Finish included. It fails when name
	// exists, visible or in progress, where the FS can tell (Local).
	Create(ctx context.Context, name string) (Writer, error)
	// DecodePending returns the Pending that Pending.Data describes, or an error for data
	// this FS did not write.
	DecodePending(data []byte) (Pending, error)
	// Commit makes the finished file p visible under p.Name, atomically. It is idempotent: a
	// file committed before, with p's size, is no error. It returns an error wrapping
	// ErrMissing when neither the pending file nor a committed one exists, and ErrMismatch
	// when a file under p.Name differs from p.
	Commit(ctx context.Context, p Pending) error
	// Abort discards the uncommitted file p (finished, or listed by ListPending); one already
	// gone is no error. It never touches a committed file.
	Abort(ctx context.Context, p Pending) error
	// ListPending returns the uncommitted files whose names are below dir: what writers
	// still write, and what they finished and nobody committed or aborted. Their Data is nil;
	// they can be aborted, not committed.
	ListPending(ctx context.Context, dir string) ([]Pending, error)
	// Delete removes the visible file name; one that does not exist is no error.
	Delete(ctx context.Context, name string) error
}

// FileInfo describes a visible file.
type FileInfo struct {
	// Name is the file's name.
	Name string
	// Size is its size in bytes, or -1 when unknown.
	Size int64
	// ModTime is when it was last written.
	ModTime time.Time
	// Version identifies its content where the FS can (an S3 ETag); "" where it cannot
	// (Local). Open and OpenReaderAt read only that version.
	Version string
}

// Writer writes one new file. Write buffers and may do I/O (upload a part) under the ctx given
// to Create. A Writer belongs to one goroutine.
type Writer interface {
	io.Writer
	// Size returns the number of bytes written so far.
	Size() int64
	// Finish makes everything written durable and returns the file as a Pending, still
	// invisible. On error the file is discarded. The Writer is done either way.
	Finish() (Pending, error)
	// Abort discards the file. The Writer is done.
	Abort() error
}

// ReaderAt reads a file at random offsets.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	// Size returns the file's size.
	Size() int64
}

// Pending is an uncommitted file: finished (from Writer.Finish or DecodePending) or found by
// ListPending.
type Pending struct {
	// Name is the name the file gets when committed.
	Name string
	// Size is its size in bytes; -1 when unknown (ListPending).
	Size int64
	// ID tells this write apart from others of the same name: the hidden file's path
	// (Local), the multipart upload's ID (S3).
	ID string
	// InProgress reports, for ListPending, a file known to be still being written (or left
	// behind by a writer that crashed while writing); false for finished files and where the
	// FS cannot tell (S3).
	InProgress bool
	// Data is the FS's own description of a finished file, what Commit needs: a checkpoint
	// stores it. Nil for ListPending's files.
	Data []byte
}

// ErrMissing is wrapped by Commit when neither the pending file nor a committed file exists:
// the file was aborted, deleted or expired (an S3 lifecycle rule), and its content is lost.
var ErrMissing = errors.New("filesystem: pending file missing")

// ErrMismatch is wrapped by Commit when a file exists under the pending file's name but not
// with the size (or the S3 ETag) the pending file has: something else wrote it.
var ErrMismatch = errors.New("filesystem: file differs from the pending file")

// ErrChanged is wrapped by the reads of a file whose version changed since it was listed.
var ErrChanged = errors.New("filesystem: file changed since it was listed")

// Join returns the name of the relative, slash-separated path rel below dir; rel "" is dir.
func Join(dir, rel string) string {
	switch {
	case rel == "":
		return dir
	case dir == "" || dir[len(dir)-1] == '/':
		return dir + rel
	}
	return dir + "/" + rel
}

// Rel returns the slash-separated path of name below dir, and whether name is dir ("") or
// below it.
func Rel(dir, name string) (string, bool) {
	if name == dir {
		return "", true
	}
	prefix := dir
	if prefix == "" || prefix[len(prefix)-1] != '/' {
		prefix += "/"
	}
	if len(name) > len(prefix) && name[:len(prefix)] == prefix {
		return name[len(prefix):], true
	}
	return "", false
}
