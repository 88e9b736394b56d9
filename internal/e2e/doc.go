// Package e2e holds tests that run whole jobs across connectors against real servers started
// by the tests themselves (kfake, kinesalite, versitygw). It has no code of its own outside its
// tests.
//
// The exactly-once tests (kafka_s3_test.go, kinesis_s3_test.go) run a job from Kafka or
// Kinesis into the exactly-once S3 sink in a child process, kill it with SIGKILL at random
// moments after it completed a checkpoint, restart it from the newest complete checkpoint, and
// finally count every input record in the committed objects of the bucket: once each. The
// harness they share (child re-execution, kills, restarts) is crash_test.go; the bucket side is
// output_test.go. Each test runs two seeds; RUNNEL_CRASH_SEEDS=n runs n. They skip under -short.
//
// The Kinesis → S3 throughput figure comes from TestKinesisToS3Throughput (throughput_test.go):
// a few thousand events in the normal suite, the figure with RUNNEL_BENCH_KINESIS=200000. It is
// a test, not a `runnel bench` verb, because only the connectors and the test servers may
// import the AWS SDK (internal/lint).
package e2e
