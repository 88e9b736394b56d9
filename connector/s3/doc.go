// Package s3 reads and writes lines, Parquet and Avro files in objects of Amazon S3 or any
// S3-compatible store (MinIO, Versity's gateway, Ceph, R2): an exactly-once sink of rolling
// part objects and a split-per-object source, bounded or monitoring a prefix.
//
// # Connection
//
// Both take an "s3://bucket/prefix" URL and a Connection (SinkConnection, SourceConnection).
// The zero Connection uses the standard AWS configuration chain for credentials and region
// (environment, ~/.aws files, web identity, container and instance roles); the endpoint comes
// from Connection.Endpoint, else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS. With an
// endpoint, requests use path-style addressing. Sink.NewWriter and the source's first listing
// contact the store, so a wrong endpoint, bucket or credentials fail the job at its start with
// an error naming the location, after Connection.MaxAttempts tries each bounded by
// Connection.DialTimeout.
//
// # Sink: life of a part object
//
// Each subtask writes the rows of a partition (a Hive-style key path below the prefix;
// HourlyPartition, "dt=2026-01-01/hour=05" of the record's timestamp, by default; see
// PartitionBy) to an open part object named
//
//	<prefix>/<partition>/part-<subtask>-<attempt>-<token>-<n><suffix>
//
// (token is random per writer, so restarted writers and new jobs never reuse a name). The
// object is a multipart upload: rows are buffered in memory and uploaded as a part whenever
// PartSize (≥ 5 MiB, S3's minimum for all parts but the last) is buffered. The object rolls
// when it reaches RollSize, when it is older than RollInterval, and at every checkpoint
// (Writer.PreCommit): rolling uploads the buffered rest as the last part, of any size, and
// the next PreCommit returns one Committable per rolled object: JSON of the bucket, key,
// upload ID, parts (number, ETag, CRC32, size) and total size. The object is not visible yet:
// S3 shows nothing under a key until its upload is completed.
//
// The Committer completes the uploads once the checkpoint is complete (and again after a
// restore). Completing is idempotent: when the store answers that it no longer knows the
// upload, the object under the key with the recorded size (and the multipart ETag its parts
// imply, where the store reports one) means it was completed before; neither upload nor
// object is ErrMissing. Abort aborts uploads and never deletes objects. Writer.Close aborts
// the uploads it has not handed out. With Gzip, each object is one gzip stream (parts split
// the compressed bytes, which is fine: the object is their concatenation).
//
// Output is readable by data-lake tools (Hive, Spark, Trino, Athena, DuckDB) as a
// partitioned table of JSON lines or CSV: encode with format/json's or format/csv's encoder,
// whose rows end in '\n', and set Delimiter("").
//
// # Parquet part objects
//
// NewParquetSink[T](url, parquet.WriterOptions{...}, opts...) writes each part object as one
// self-describing Parquet file (format/parquet: schema from T's `parquet` tags in the footer,
// column compression from WriterOptions.Compression, Snappy by default, or Zstd, Gzip,
// Uncompressed), suffix ".parquet". The Parquet writer writes into the part buffer, which is
// uploaded as a part whenever it holds PartSize, so memory is about a row group plus a part per
// open object. Rolling (RollSize, RollInterval, every checkpoint) closes the file, writing its
// footer, and uploads the last part; the upload is then a committable like a line object's.
// Gzip and Delimiter are errors for Parquet sinks.
//
// NewAvroSink[T](url, avro.FileOptions{...}, opts...) does the same with Avro object container
// files (format/avro: the schema in the header, records in blocks compressed by
// FileOptions.Codec), suffix ".avro"; a roll writes the last block.
//
// # Incomplete uploads need a lifecycle rule
//
// A writer that crashes, or a checkpoint that never completes, leaves multipart uploads that
// are invisible but billed. Writers abort what they can, but S3 removes the rest only by a
// lifecycle rule: give the bucket (or the prefix) one that aborts incomplete multipart uploads
// after a day or so (AbortIncompleteMultipartUpload, DaysAfterInitiation: 1). Keep that delay
// well above the longest time a checkpoint may take to be committed, restarts included, or a
// restored checkpoint's uploads expire before they are committed (ErrMissing).
//
// # Source
//
// Each object below the prefix is a Split, skipping keys ending in "/" and hidden names
// (last segment starting with '.' or '_', such as _SUCCESS), optionally filtered (Filter).
// Bounded sources list once; Monitor lists again every interval (the enumerator implements
// connector.Discoverer) and remembers the keys it has seen, in checkpoints too, so each object
// is read once. Objects ending in ".gz" are gzip, in ".zst" or ".zstd" zstd; others are read
// as they are. Lines end in "\n" (a "\r" before it is dropped); empty lines are skipped, and so
// are lines whose decoder error wraps format.ErrBlank (format/json's, for white space only).
//
// A split's position is the byte offset of the next line for plain objects: a restored
// reader continues with a ranged GET from there. Compressed streams cannot be entered in the
// middle, so their position is the number of lines consumed: a restored reader reads the
// object again from the start and skips that many lines. Reads are pinned to the ETag the
// object had when it was listed (If-Match); a replaced object fails the job rather than mix
// two versions.
//
// NewParquetSource[T](url, opts...) reads every object as a Parquet file through an io.ReaderAt
// of ranged GETs (the footer, then the column chunks needed), pinned to the ETag likewise. Its
// position is Split.Line, the index of the next row; a restored reader seeks to it
// (parquet.Reader.SeekToRow: the row group and page holding the row), so resuming costs at most
// a page, not the object. Parquet has no separate records: a corrupt footer or page fails the
// job with the bucket, key and row; OnMalformed does not apply.
//
// NewAvroSource[T](url, opts...) reads every object as an Avro container file, with one GET
// pinned to the ETag, decoding records as the body streams in. Its position is Split.Line, the
// index of the next record; a restored reader reads the object up to it again. A corrupt block
// fails the job with the object and record; OnMalformed does not apply.
//
// Lines decode rejects follow the OnMalformed policy (format.Fail by default,
// with an error naming the object, line and byte offset, or format.DeadLetter).
package s3
