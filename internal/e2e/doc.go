// Package e2e holds tests that run whole jobs across connectors against real servers started
// by the tests themselves (kfake, kinesalite, versitygw): exactly-once from Kafka and Kinesis into
// S3 with the process killed at random points, and the throughput figures of docs/PERFORMANCE.md.
// It has no code of its own outside its tests.
package e2e
