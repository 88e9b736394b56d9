// Package s3 is the file system of Amazon S3 and S3-compatible stores (MinIO, Versity's gateway,
// Ceph, R2) for the file connectors: FS implements filesystem.FS, so connector/file's source
// (JSON lines, CSV, Parquet, Avro, gzip/zstd; bounded or monitoring; positions in checkpoints)
// and its exactly-once part-file sink (buckets, rolling, commit, recovery) work on S3 as they
// do on local files:
//
//	fsys, err := s3.NewFS(ctx, s3.Config{Connection: conn})
//	...
//	sink, err := file.NewParquetSink(file.SinkConfig[Row]{FS: fsys, Dir: "s3://bucket/out", Bucket: file.Hourly[Row]},
//		parquet.WriterOptions{})
//	src, err := file.NewSource(file.SourceConfig[Order]{FS: fsys, Path: "s3://bucket/in/", Format: file.JSONLines[Order]()})
//
// # Connection
//
// Names are "s3://bucket/key" URLs, of any bucket the connection reaches. The zero Connection
// (awsconn.Config, shared with the S3 checkpoint storage and Kinesis) uses the standard AWS
// configuration chain for credentials and region (environment, ~/.aws files, web identity,
// container and instance roles); the endpoint comes from Connection.Endpoint, else
// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS. With an endpoint, requests use path-style
// addressing. The sink's writers and the source's first listing contact the store, so a wrong
// endpoint, bucket or credentials fail the job at its start with an error naming the location,
// after Connection.MaxAttempts tries each bounded by Connection.DialTimeout.
//
// # Permissions
//
// Reading needs s3:ListBucket on the prefix and s3:GetObject below it. The file sink also needs
// s3:PutObject and s3:AbortMultipartUpload below its directory and s3:ListBucketMultipartUploads
// on the bucket: its writers and committer look for the uploads earlier attempts left (which
// also checks at a writer's start that the location can be reached). Delete needs
// s3:DeleteObject.
//
// # Writing: multipart uploads completed at commit
//
// Create starts a multipart upload under the file's key at once. What is written is buffered in
// memory and uploaded as a part whenever Config.PartSize (≥ 5 MiB, S3's minimum for all parts
// but the last) is buffered; Finish uploads the rest as the last part, of any size. The object
// is not visible yet: S3 shows nothing under a key until its upload is completed. The Pending
// Finish returns, which the file sink hands out as its committable, is JSON of the bucket, key,
// upload ID, parts (number, ETag, CRC32, size) and total size, the same as the committables of
// the S3 sink of earlier versions, so their checkpoints still commit.
//
// Commit completes the upload, and is idempotent: when the store answers that it no longer
// knows the upload, the object under the key with the recorded size (and the multipart ETag its
// parts imply, where the store reports one) means it was completed before; neither upload nor
// object is filesystem.ErrMissing, another object is filesystem.ErrMismatch. Abort aborts the
// upload and never deletes an object. ListPending lists the multipart uploads not completed nor
// aborted below a prefix; S3 cannot tell one still being written from a finished one, so the
// file sink's writers leave them to its committer (which aborts its own job run's failed
// attempts' uploads) and to file.Recover.
//
// # Incomplete uploads need a lifecycle rule
//
// A process that crashes, or a checkpoint that never completes, leaves multipart uploads that
// are invisible but billed. The file sink aborts what it can find, but only a lifecycle rule
// removes the uploads of a job that never runs again: give the bucket (or the prefix) one that
// aborts incomplete multipart uploads after a day or so (AbortIncompleteMultipartUpload,
// DaysAfterInitiation: 1). Keep that delay well above the longest time a checkpoint may take to
// be committed, restarts included, or a restored checkpoint's uploads expire before they are
// committed (ErrMissing).
//
// # Reading
//
// List lists keys below a prefix (keys ending in "/", directory markers, are left out), with
// each object's size and ETag. Open streams an object from an offset with one GET (ranged from
// the offset), OpenReaderAt reads ranges with a GET each (Parquet reads its footer, then the
// column chunks it needs); both send If-Match with the ETag the object had when it was listed,
// so an object replaced since fails with filesystem.ErrChanged rather than mix two versions.
package s3
