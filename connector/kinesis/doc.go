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
// retry is logged as a warning to the reader's logger (the job's Logger). The enumerator's shard listing runs
// again at the next discovery when it fails, so a job rides out a server that cannot be reached
// for up to about MaxRetries backoffs (outage_test.go cuts a proxy in front of the server and
// restores it). The largest MillisBehindLatest over a reader's unfinished shards is its
// millisBehindLatest gauge
// (metrics.MillisBehindLatest) in the job's metrics snapshots, as Managed Service for Apache
// Flink names it in CloudWatch. It is the figure of each shard's last GetRecords (or, with
// enhanced fan-out, its last event), so it falls to 0 once a shard's tip is reached
// (TestSourceLagMetric).
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
// With SourceConfig.FanOut set, the readers subscribe to their shards (SubscribeToShard) through a
// registered stream consumer instead of polling, and each gets its shard's records pushed at up to
// 2 MB/s of its own, with no GetRecords limits shared with other consumers.
//
// The consumer is registered lazily, as Flink's default LAZY strategy does: the first subscription
// of a Source asks for it, registers FanOut.ConsumerName if the stream has no consumer of that name
// and reuses it if it has one, and waits (backing off up to 5s between DescribeStreamConsumer
// calls) until it is ACTIVE, for at most FanOut.RegisterTimeout; the other readers wait for that
// one ARN. FanOut.ConsumerARN instead names a consumer made beforehand, and nothing is registered
// (Flink's NONE). Nothing is deregistered on its own: a run's end does not say whether the job is
// retired or about to restart, and restarts, failovers and redeploys should keep their consumer
// rather than wait for a new one. Source.DeregisterConsumer, called after the job ended for good,
// deregisters the consumer if that Source registered it, never one it found or was given. A
// registered consumer counts against the stream's consumer limit and is billed as AWS's enhanced
// fan-out pricing says, so delete the leftovers of crashed runs with DeregisterStreamConsumer. Two
// jobs must not share a consumer name: a shard takes one subscription per consumer at a time, so
// the second job's readers are refused (ResourceInUseException) until their retries run out.
//
// A subscription starts after the last continuation sequence number (or the checkpointed sequence
// number of a restored split), else at SourceConfig.Start; a shard started at LATEST whose first
// subscription ended before any event gave a continuation is subscribed to again AT_TIMESTAMP of
// that first subscription, so records put in between are not skipped. Each SubscribeToShardEvent's
// records go to the same per-shard queue as polling's batches, and its MillisBehindLatest to the
// same millisBehindLatest gauge (Kinesis also sends events without records while a
// shard is idle, which bring the gauge back to 0). A subscription ends after five minutes, or on a
// failure; the next one starts after the last continuation, so nothing is read twice, and a
// subscription that brought no event is followed by a pause of BaseBackoff. Refusals (ResourceInUse
// while the last subscription closes, LimitExceeded, service failures, a broken connection) back
// off with jitter under the same MaxRetries as polling; a failure not worth retrying (access
// denied, say), or the last one MaxRetries allows, fails the job with an error naming the stream,
// the shard and SubscribeToShard. A closed shard's last event carries its ChildShards and no
// continuation: that is its end, and the shard is finished as with polling, so resharding keeps
// each key's order. The checkpointed positions are the same sequence numbers either way, so a job
// can move between polling and fan-out across a restore. Each subscription gets a protocol object
// of its own (ownProtocol in fanout.go) to work around a data race in smithy-go v1.28.9's
// event-stream decoding.
//
// kinesalite has no enhanced fan-out, so the tests put kinesistest.FanOut in front of it: it keeps
// consumers in memory (CREATING for 100 ms, then ACTIVE) and serves SubscribeToShard as an AWS
// event stream made from GetRecords calls (records, continuations, idle events, ChildShards at a
// shard's end, injected refusals and made-up MillisBehindLatest figures), so the SDK's real
// event-stream decoding runs (over HTTP/1.1 there; to AWS the SDK's client negotiates HTTP/2). Its
// subscriptions last 300 ms in most tests to exercise re-subscription, and the outage test cuts
// open subscriptions. The restore (switching modes too), resharding, checkpointed job, outage, lag
// and start-position tests and the conformance suite run in both modes. This is an emulation, not
// AWS: with RUNNEL_KINESIS_ENDPOINT=aws the fan-out tests that need no emulation use real enhanced
// fan-out and deregister their consumers at the end.
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
