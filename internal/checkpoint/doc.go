// Package checkpoint is the foundation of Runnel's exactly-once snapshots (Flink's
// asynchronous barrier snapshotting): the Coordinator, a pure state machine that decides when
// checkpoints and savepoints start, complete and fail, and the Storage that holds their files,
// with the metadata format, retention and key-group state files. docs/CHECKPOINTS.md describes
// the protocol, the on-disk layout and the guarantees.
//
// # Files
//
//	config.go        Config of the coordinator: interval, min pause, timeout, tolerable failures
//	action.go        TaskID and the actions the coordinator returns
//	coordinator.go   the Coordinator state machine and its Stats
//	errors.go        the abort reasons and other sentinel errors
//	storage.go       the Storage contract and Open (by URL)
//	local.go         Local, the Storage in a local directory
//	s3.go            S3, the Storage in an S3 bucket (aws-sdk-go-v2); S3Options
//	layout.go        names of directories and files below a root
//	metadata.go      Metadata, the description of a complete snapshot
//	format.go        the versioned metadata file format; WriteMetadata, ReadMetadata
//	catalog.go       Latest, List, DeleteSnapshot
//	retention.go     Retain: which checkpoints and shared files to delete
//	keygroupfile.go  per-key-group state files: KeyGroupWriter, ReadKeyGroup
//
// The subpackage checkpointtest holds an in-memory Storage with fault injection and the
// conformance suite every Storage passes.
//
// # Driving the coordinator
//
// One goroutine owns the Coordinator. It ticks it with the job's clock and passes on what the
// tasks report; after each call it executes the returned actions in order. A sketch of the
// runtime's loop:
//
//	c, err := checkpoint.NewCoordinator(cfg, tasks) // tasks: every subtask that acks
//	c.SetNextID(restoredID + 1)                     // when restored from a snapshot
//	for {
//		var acts []checkpoint.Action
//		select {
//		case now := <-ticker.Chan():                // e.g. every 100ms of the injected clock
//			acts = c.Tick(now)
//		case a := <-acks:                           // from tasks, after their async snapshot
//			acts = c.Ack(a.ID, a.Task, a.Handle)
//		case d := <-declines:
//			acts = c.Decline(d.ID, d.Task, d.Err)
//		case r := <-finalizeResults:                // from the goroutine writing metadata
//			if r.Err != nil {
//				acts = c.FinalizeFailed(r.ID, r.Err)
//			} else {
//				acts = c.Finalized(r.ID)
//			}
//		case req := <-savepointRequests:
//			id, a, err := c.TriggerSavepoint(clock.Now(), req.Dir)
//			...
//		}
//		for _, a := range acts {
//			switch a := a.(type) {
//			case checkpoint.Trigger:        // inject a barrier with a.ID into every source task
//			case checkpoint.Finalize:       // build Metadata from a.Acks, WriteMetadata (async), report back
//			case checkpoint.NotifyComplete: // tell tasks; sinks commit everything pending up to a.ID; Retain
//			case checkpoint.Abort:          // tell tasks to drop a.ID; DeleteSnapshot its directory
//			case checkpoint.FailJob:        // fail the job; on restart call c.TaskFailed
//			}
//		}
//	}
//
// Each task, when the barrier of snapshot n has arrived on all its inputs (aligned), snapshots
// its operators' state, forwards the barrier, writes its files below the snapshot's directory
// (CheckpointDir(n) in the checkpoint storage, or a SavepointDir in the savepoint location) and
// acks with a handle describing what it wrote: for keyed state a KeyedState from a
// KeyGroupWriter, source splits and sink committables as blobs. The coordinator treats handles
// as opaque; the runtime turns the acks of a Finalize into a Metadata.
//
// # Storage
//
// A snapshot's files go below its directory; its metadata file (_metadata) is written last
// and atomically, so a snapshot exists exactly when its metadata file does. Latest finds the
// checkpoint to restore from, List lists snapshots, Retain deletes old ones and the shared
// files only they used.
package checkpoint
