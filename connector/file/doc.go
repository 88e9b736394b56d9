// Package file is an exactly-once sink writing rows to part files on the local filesystem,
// shaped like Flink's FileSink.
//
// # Life of a part file
//
// Each subtask writes the rows of one bucket (a relative directory below the sink's root, see
// BucketBy and HourlyBuckets) to an in-progress file; the names carry the subtask, the job
// attempt, a random token per writer and a counter, so a restarted writer or a new job on the
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
// possibly pending files of checkpoints that never completed. Two mechanisms remove them:
//
//   - lazily, NewWriter deletes the in-progress files of its own subtask left by earlier
//     attempts (their attempt number is lower than its own); it never touches pending files,
//     which the restored checkpoint may still have to commit;
//   - fully, Recover deletes every in-progress file and every pending file not named by the
//     committables the runtime restored. The runtime calls it at restore, before the new
//     writers start. It is the only way to clean up after a rescale (subtasks that no longer
//     exist) or after a new job with attempt 0 replaces a crashed one.
//
// Hidden files never show up to readers that skip names starting with '.' or '_' (Hive, Spark,
// Flink, Trino all do), so leftovers cost disk space, never correctness.
package file
