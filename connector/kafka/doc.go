// Package kafka reads from and writes to Apache Kafka and Amazon MSK, on franz-go (kgo, kadm).
//
// # Source
//
// NewSource reads Records (key, value, headers, timestamp, topic, partition, offset);
// NewDecodedSource maps each one to a T with a decode function whose errors follow the
// format.Policy of SourceConfig: fail the job with a *format.RecordError naming topic/partition,
// offset and reason, or hand it to a dead-letter function. Avro values written with a Schema
// Registry decode through format/avro (avro_test.go: a Decoder's Unmarshal is the decode
// function); a registry that cannot be reached fails the job under either policy. Topics are
// given by list or by
// regex. Each partition is a split (ID "topic-partition", position the next offset); the
// enumerator resolves where new partitions start (SourceConfig.Start: earliest, latest, a
// timestamp, or a group's committed offsets) into concrete offsets, so checkpoints always hold
// offsets, and assigns each split to one reader by hashing its topic and partition. A bounded
// source reads each partition up to its end offset at the time it was listed.
//
// The enumerator implements connector.Discoverer: the runtime calls Discover every
// SourceConfig.DiscoveryInterval, which makes splits for new partitions and for new topics
// matching the regex, starting at their earliest offsets. Its checkpointed state is its
// unassigned splits plus a marker split listing every partition it knows, so that after a
// restore it makes splits only for partitions that are new.
//
// Each reader has its own client consuming its partitions directly (no group membership) and
// a fetch goroutine that polls it, so Read never blocks on the network; the reader implements
// connector.Availability. Records go through their split's output, so watermarks are per
// partition. After a checkpoint completes (connector.CheckpointListener) a reader commits the
// checkpoint's offsets to SourceConfig.Group, best effort and off the task goroutine, for
// lag monitoring; the checkpoints, not the group, hold the progress. After each fetch a
// reader works out each partition's lag: the high watermark, or for ReadCommitted the last
// stable offset (records of open transactions are not lag, as in Kafka's Java consumer), minus
// the offset after the last record polled. The largest over a reader's partitions is its
// records_lag_max gauge (metrics.RecordsLagMax) in the job's metrics snapshots, as Managed
// Service for Apache Flink names it in CloudWatch. It is the lag as of the reader's last fetch
// (a reader held back by backpressure fetches only as its buffered records drain), and it
// reads 0 once the reader has polled every record it can read (TestSourceLagMetric,
// TestSourceLagReadCommitted).
//
// # Sink
//
// NewSink writes Records and NewEncodedSink maps values to Records. Records are partitioned by
// key as Kafka's Java client does (murmur2), or by SinkConfig.Partitioner.
//
// AtLeastOnce flushes at every checkpoint barrier (Writer.PreCommit), so everything written
// before a completed checkpoint is acknowledged by the brokers.
//
// ExactlyOnce writes each checkpoint's records in a Kafka transaction. A writer opens a
// transaction with its own client at the first record after a barrier, under the
// transactional ID prefix-parallelism-subtask-sequence, never reused. At the barrier it
// flushes, reads the producer ID and epoch, and closes the client without ending the
// transaction; the committable records the transactional ID, producer ID and epoch. When the
// checkpoint completes, the Committer sends EndTxn(commit) with that ID and epoch from a
// client of its own. That works from any process, so after a crash the restored committables
// are committed by the new process (the broker answers a repeated commit with success, which
// makes Commit idempotent), which is how Flink resumes transactions, without reflection.
// A transaction the broker no longer has open (aborted by its timeout, or fenced) makes Commit
// fail with ErrTransactionLost: its records are gone, and the job says so.
//
// Before its first transaction, a writer lists the transactions under its prefix (the
// ListTransactions API, Kafka 3.0+) and aborts, by initialising a producer for them, those of
// its own subtask and parallelism still open: they were opened or pre-committed by a run that
// crashed after the last completed checkpoint. It does so lazily, at its first record or
// barrier, because the runtime commits the restored checkpoint's transactions when the sink
// opens, after NewWriter. read_committed consumers are therefore not blocked by a crashed run.
// Its next sequence number follows the highest listed, so IDs are unique across restarts.
// Transactions left open by a run at another parallelism are aborted later (see Limits).
//
// # Security
//
// Cluster configures TLS and SASL: PLAIN, SCRAM-SHA-256/512, and AWS_MSK_IAM with credentials
// from a function or aws-sdk-go-v2's default chain.
//
// # Limits
//
//   - Transaction IDs are not pooled: each checkpoint of each subtask makes one, which the
//     brokers keep until transactional.id.expiration.ms (7 days by default) passes. Flink's
//     connector had the same cost before its pooling strategy.
//   - After a restore at a different parallelism, transactions the crashed run left open under
//     the old parallelism cannot be aborted at once (a restored committable of another subtask
//     may still wait for a subtask that has not opened yet): the writer of subtask 0 aborts
//     them once it sees a checkpoint of the new run committed, so read_committed consumers of
//     those partitions wait a checkpoint or two longer.
//   - The transaction timeout (SinkConfig.TransactionTimeout, 10 minutes by default) must cover
//     the time from a barrier to the completion of its checkpoint, including restarts; after
//     it, the broker aborts the transaction and the commit fails with ErrTransactionLost.
//   - A bounded source ends a partition when it reaches the end offset, counting transaction
//     markers; a compacted topic whose last offsets were compacted away may keep it waiting.
//   - Offsets past the retention are reset to the earliest offset, as a plain consumer would.
//
// # Tests
//
// The tests run against kfake (github.com/twmb/franz-go/pkg/kfake), an in-process cluster that
// speaks the real protocol, transactions included: each test starts its own. To run them
// against a real cluster (Apache Kafka, MSK, Redpanda), set RUNNEL_KAFKA_TEST_BROKERS to its
// seed brokers, RUNNEL_KAFKA_TEST_TLS=1 for TLS with the system's CAs, and
// RUNNEL_KAFKA_TEST_SASL to MECHANISM:USER:PASSWORD (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, in
// any case) or to AWS_MSK_IAM (credentials from the AWS default chain):
//
//	RUNNEL_KAFKA_TEST_BROKERS=b-1.example:9096,b-2.example:9096 RUNNEL_KAFKA_TEST_TLS=1 \
//	    RUNNEL_KAFKA_TEST_SASL=SCRAM-SHA-512:user:password go test ./connector/kafka/
//
// Each test then makes its topics, with the partitions it needs, under a random prefix
// "runnel-test-<hex>-" (its transactional ids and consumer groups too), waits until every
// partition has a leader, and deletes the prefix's topics and groups when it ends; the user
// needs the rights to create and delete topics. The conformance suite runs there too. The tests
// that need what only kfake gives (a broker stopped and started again, listeners with TLS and
// SASL users the test sets up, refused credentials) skip, saying why. The SASL mechanisms are
// tested against kfake, which implements PLAIN and SCRAM but not AWS_MSK_IAM: that one is
// tested only through its configuration, and against MSK with the variables above.
package kafka
