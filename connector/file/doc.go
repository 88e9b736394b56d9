// Package file reads and writes the files of a file system: a split-based Source of JSON lines,
// CSV, Parquet or Avro files, bounded or monitoring a directory, and an exactly-once Sink of
// line-format, Parquet or Avro part files, shaped like Flink's FileSource and FileSink. Both
// stand on a filesystem.FS: filesystem.Local{} (the default) or connector/s3's FS, and behave
// the same on either; a file system's names (absolute paths, "s3://bucket/key" URLs) are what
// SinkConfig.Dir, SourceConfig.Path and the splits hold.
//
// # Source
//
// NewSource reads the files below a directory (recursively), a single file, or the files
// matching a glob, skipping names with an element starting with '.' or '_' (so a sink's
// uncommitted parts and _SUCCESS markers are never read). Each file is a split, read by one
// reader; the enumerator deals files round robin. The position of a split is where its next
// record starts: the byte offset of a plain line-format file (restored by reading from there, a
// ranged GET on S3), the record count of a gzip (".gz") or Zstandard (".zst", ".zstd") file
// (restored by decompressing and skipping, checked against the decompressed offset), the row
// index of a Parquet file (restored by seeking to its row group and page, with ranged reads),
// the record index of an Avro container file (restored by reading up to it). Positions advance
// after each record is emitted, so a checkpoint holds exactly the records emitted before it.
// With Monitor the source is unbounded and lists again every interval; the enumerator's
// checkpoint records every file it made a split of, so each file is read once across restores.
// Malformed records follow format.Policy: by default they fail the job with a
// *format.RecordError naming file, line, offset and reason; with DeadLetter they go to a
// function. See Source for the details.
//
// # Life of a part file (Sink)
//
// Each subtask writes the records of one bucket (a relative directory below the sink's Dir, see
// SinkConfig.Bucket and Hourly) to an open part file; the names carry the subtask, the job
// attempt, a random token (the sink's run token, then the writer's) and a counter, so a
// restarted writer or a new job on the same directory never reuses a name:
//
//	<dir>/<bucket>/part-<subtask>-<attempt>-<token>-<n><suffix>
//
// The file system writes it invisibly (filesystem.FS.Create): locally as the hidden file
// ".part-…<suffix>.inprogress", renamed to ".part-…<suffix>.pending" when finished and to its
// name at commit; on S3 as a multipart upload, completed at commit. A part file rolls (is
// finished: made durable, still invisible) when it reaches RollSize, when it is older than
// RollInterval, and at every Writer.PreCommit: like Flink's bulk formats, the sink rolls on every
// checkpoint, so a checkpoint never has to remember an offset inside an open file. PreCommit
// returns one connector.Committable per finished file: the file system's description of it
// (filesystem.Pending.Data; locally JSON of the pending path, final path and size, on S3 of the
// upload and its parts, as the sinks of earlier versions wrote them). The Committer commits
// them (filesystem.FS.Commit); committing again is a no-op, so the runtime may re-commit the
// committables of the checkpoint it restores. Abort discards them. Writer.Close discards
// whatever it has not handed out in a committable.
//
// # Recovery
//
// A crashed writer leaves in-progress files behind (never visible, never committable), and
// possibly finished files of checkpoints that never completed. Three mechanisms remove them:
//
//   - NewWriter discards the in-progress files of its own subtask left by earlier attempts
//     (their attempt number is lower than its own), where the file system tells in-progress
//     files from finished ones (locally; on S3 both are multipart uploads); it never touches
//     finished files, which the restored checkpoint may still have to commit;
//   - within a job run (one Sink value, restarted in the same process), the Committer discards
//     the run's uncommitted files of earlier attempts once it commits a part of a later
//     attempt: by then every committable of the restored checkpoint has been committed, so
//     what is still uncommitted was being written by a failed writer or pre-committed at a
//     checkpoint that never completed. The token in a part's name starts with a random run
//     token drawn by NewSink, so other jobs' files are never touched;
//   - fully, Recover discards every uncommitted part file below a directory that given
//     committables do not name. The runtime does not call it: call it before starting a job
//     that restores the checkpoint of another process (with that checkpoint's committables),
//     with no other job writing to the directory. It is the only way to clean up after a
//     crashed process (on S3, besides a lifecycle rule: see connector/s3).
//
// Uncommitted files never show up to readers: locally they are hidden names, which readers that
// skip names starting with '.' or '_' (Hive, Spark, Flink, Trino all do) pass over; on S3 an
// upload is invisible until completed. Leftovers cost space, never correctness.
package file
