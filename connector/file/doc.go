// Package file reads and writes files on the local filesystem: a split-based Source of JSON
// lines, CSV, Parquet or Avro files, bounded or monitoring a directory, and exactly-once sinks
// of line-format (Sink) or Parquet and Avro (BulkSink: NewParquetSink, NewAvroSink) part files,
// shaped like Flink's FileSource and FileSink.
//
// # Source
//
// NewSource reads the files below a directory (recursively) or matching a glob, skipping names
// that start with '.' or '_' (so a sink's uncommitted parts are never read). Each file is a
// split, read by one reader; the enumerator deals files round robin. The position of a split is
// where its next record starts: the byte offset of a plain line-format file (restored by
// seeking), the record count of a gzip (".gz") or Zstandard (".zst", ".zstd") file (restored by
// decompressing and skipping, checked against the decompressed offset), the row index of a
// Parquet file (restored by seeking to its row group and page), the record index of an Avro
// container file (restored by reading up to it). Positions advance after each
// record is emitted, so a checkpoint holds exactly the records emitted before it. With Monitor
// the source is unbounded and lists again every interval; the enumerator's checkpoint records
// every file it made a split of, so each file is read once across restores. Malformed records
// follow format.Policy: by default they fail the job with a *format.RecordError naming file,
// line, offset and reason; with DeadLetter they go to a function. See Source for the details.
//
// # Life of a part file (Sink and BulkSink)
//
// Each subtask writes the rows of one bucket (a relative directory below the sink's root, see
// BucketBy and HourlyBuckets) to an in-progress file; the names carry the subtask, the job
// attempt, a random token (the sink's run token, then the writer's) and a counter, so a restarted writer or a new job on the
// same directory never reuses a name:
//
//	<dir>/<bucket>/.part-<subtask>-<attempt>-<token>-<n>.inprogress   being written (hidden)
//	<dir>/<bucket>/.part-<subtask>-<attempt>-<token>-<n>.pending      durable, not yet visible (hidden)
//	<dir>/<bucket>/part-<subtask>-<attempt>-<token>-<n><suffix>       committed (visible)
//
// A part file rolls (is closed, fsynced and renamed to its pending name) when it reaches
// RollSize, and at every Writer.PreCommit: like Flink's bulk formats, the sink rolls on every
// checkpoint, so a checkpoint never has to remember an offset inside an open file.
// PreCommit returns one connector.Committable per pending file (JSON: pending path, final path,
// size). The Committer renames pending files to their final names and fsyncs the directory;
// committing again is a no-op, so the runtime may re-commit the committables of the checkpoint
// it restores. Abort deletes pending files. Writer.Close deletes whatever it has not handed out
// in a committable.
//
// # Recovery
//
// A crashed writer leaves in-progress files behind (never visible, never committable), and
// possibly pending files of checkpoints that never completed. Three mechanisms remove them:
//
//   - lazily, NewWriter deletes the in-progress files of its own subtask left by earlier
//     attempts (their attempt number is lower than its own); it never touches pending files,
//     which the restored checkpoint may still have to commit;
//   - within a job run (one Sink value, restarted in the same process), the Committer deletes
//     the run's pending files of earlier attempts once it commits a part of a later attempt:
//     by then every committable of the restored checkpoint has been committed, so what is
//     still pending was pre-committed at a checkpoint that never completed. The token in a
//     part's name starts with a random run token drawn by NewSink, so other jobs' files are
//     never touched;
//   - fully, Recover deletes every in-progress file and every pending file not named by given
//     committables. The runtime does not call it: call it before starting a job that restores
//     the checkpoint of another process (with that checkpoint's committables), with no other
//     job writing to the directory. It is the only way to clean up after a crashed process.
//
// Hidden files never show up to readers that skip names starting with '.' or '_' (Hive, Spark,
// Flink, Trino all do), so leftovers cost disk space, never correctness.
package file
