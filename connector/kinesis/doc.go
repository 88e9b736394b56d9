// Package kinesis reads from and writes to Amazon Kinesis Data Streams through
// aws-sdk-go-v2's Kinesis client (or anything implementing SourceAPI and PutRecordsAPI).
//
// # Source
//
// Source is a split-based, unbounded source of Records; every shard is a split whose position
// is the last sequence number emitted, so a restored job reads AFTER_SEQUENCE_NUMBER it and
// every record reaches the job exactly once (given exactly-once operators downstream). A job
// started without a checkpoint begins at SourceConfig.Start: TRIM_HORIZON (default), LATEST or
// AT_TIMESTAMP. LATEST reads only the shards open at the start, from the moment each reader
// gets its iterator; records put between the job's start and that moment are not read.
//
// Each reader runs one fetch goroutine per shard that polls GetRecords, queues up to two
// batches ahead of the task and wakes it through connector.Availability, so Read never waits
// on the network. Throttling (ProvisionedThroughputExceeded), service failures and transport
// errors are retried with exponential backoff and jitter; an expired iterator is replaced by a
// new one after the last sequence number fetched. After SourceConfig.MaxRetries failures in a
// row the reader fails the job with an error naming the stream, the shard and the call; every
// retry is logged and reported to SourceConfig.OnRetry. The enumerator's shard listing runs
// again at the next discovery when it fails, so a job rides out a server that cannot be reached
// for up to about MaxRetries backoffs (outage_test.go cuts a proxy in front of the server and
// restores it). MillisBehindLatest of every shard is reported to SourceConfig.OnLag and kept
// for Source.Lag; the largest over a reader's unfinished shards is its millisBehindLatest gauge
// (metrics.MillisBehindLatest) in the job's metrics snapshots, as Managed Service for Apache
// Flink names it in CloudWatch. It is the figure of each shard's last GetRecords, so it falls
// to 0 once a poll finds a shard's tip (TestSourceLagMetric).
//
// # Resharding
//
// SplitShard and MergeShards close shards and open children whose records must come after
// their parents' for each partition key. The enumerator lists the shards at start and every
// SourceConfig.DiscoveryInterval (connector.Discoverer), and knows each shard's parents
// (ParentShardId, AdjacentParentShardId). It assigns a shard only when every parent is read to
// its end, has expired, or is not read at all (closed shards at a LATEST start). Reading
// progress lives in the readers, and the connector contract has no event from reader to
// enumerator, so the readers of a run and its enumerator share a small record of finished
// shards (lineage.go): a reader that reaches the end of a shard (GetRecords returns no
// NextShardIterator) emits its last records, releases the split and records it as finished;
// the enumerator hands out the children at its next discovery. A child goes to the reader of
// its first parent, so after a split every key's records pass through one reader in order;
// after a merge of parents read by two readers, the order between the adjacent parent's last
// records and the child's first ones relies on them reaching downstream operators within the
// discovery interval, which the runtime's flush interval (10 ms) makes a wide margin but not a
// guarantee under heavy backpressure.
//
// Checkpoints keep this consistent: a reader keeps a finished shard in its snapshots as a
// marker (Split.Finished) until the stream no longer lists it, and the enumerator's snapshot
// records which shards it assigned. A restored run rebuilds its record of finished shards from
// the markers, so a child assigned after the checkpoint is assigned again, and no child is
// assigned before its parents. A Source therefore runs in one job at a time.
//
// Source emits raw Records. DecodedSource (NewDecodedSource) emits each record decoded as a T
// by a user function, a format package's decoder say; a record it rejects takes the
// format.Policy given: Fail ends the job with a *format.RecordError naming the stream, shard,
// sequence number and reason, DeadLetter hands that error with the raw data to a dead-letter
// function and reads on. Nothing is dropped silently.
//
// # Enhanced fan-out
//
// With SourceConfig.FanOut set, the readers subscribe to their shards (SubscribeToShard) through
// a registered stream consumer instead of polling, and each gets its shard's records pushed at
// up to 2 MB/s of its own, with no GetRecords limits shared with other consumers. The source
// registers the consumer named FanOut.ConsumerName if the stream has none of that name (and
// reuses it if it does, so restarts keep one consumer), waits until it is ACTIVE, and never
// deregisters it. Two jobs must not share a consumer name: a shard takes one subscription per
// consumer at a time, so the second job's readers are refused (ResourceInUseException) until
// their retries run out. Delete the consumer with DeregisterStreamConsumer when the application
// is retired, as with any AWS resource (a registered consumer counts against the stream's
// consumer limit and is billed as AWS's enhanced fan-out pricing says). FanOut.ConsumerARN uses
// a consumer made beforehand. A subscription ends after five minutes, or on a failure; the next
// one starts after the last continuation sequence number, so nothing is read twice. Refusals
// (ResourceInUse while the last subscription closes, throttling) back off and retry under the
// same MaxRetries as polling. A closed shard's last event carries no continuation: that is its
// end, and the shard is finished as with polling, so resharding keeps each key's order. The
// checkpointed positions are the same sequence numbers, so a job can move between polling and
// fan-out across a restore. Each subscription gets a protocol object of its own (ownProtocol in
// fanout.go) to work around a data race in smithy-go v1.28.9's event-stream decoding.
//
// kinesalite has no enhanced fan-out, so the tests put kinesistest.FanOut in front of it: it
// keeps consumers in memory and serves SubscribeToShard as an AWS event stream built from
// GetRecords calls, so the SDK's real event-stream decoding runs (over HTTP/1.1 there; to AWS
// the SDK's client negotiates HTTP/2); its subscriptions last 300 ms in the tests to exercise
// re-subscription, and the outage test cuts open subscriptions. With RUNNEL_KINESIS_ENDPOINT=aws
// the fan-out tests use real enhanced fan-out and deregister their consumers at the end.
//
// # Sink
//
// Sink writes records with PutRecords in batches within the service's limits (500 records,
// 5 MiB, 1 MiB per record), retries the records a call reports as failed with exponential
// backoff, and sends everything buffered at each checkpoint: at-least-once delivery. See Sink.
//
// # Tests
//
// The tests run against kinesalite, started per test by internal/testing/kinesistest. To run
// them against real Kinesis Data Streams instead, set RUNNEL_KINESIS_ENDPOINT=aws (or to the
// URL of another Kinesis-compatible server), the region and credentials through the standard
// AWS variables (AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), and
// optionally RUNNEL_KINESIS_STREAM_PREFIX (default "runnel-test-"):
//
//	RUNNEL_KINESIS_ENDPOINT=aws AWS_REGION=eu-west-1 RUNNEL_KINESIS_STREAM_PREFIX=ci-runnel- \
//	    go test ./connector/kinesis/
//
// Each test creates its own provisioned streams and deletes them when it ends. Tests that need
// a local server (the proxy of the outage test, fixed test credentials) skip themselves.
package kinesis
