// Package snapshot is the engine's side of Runnel's exactly-once snapshots (Flink's
// asynchronous barrier snapshotting): the Coordinator, a pure state machine that decides when
// checkpoints and savepoints start, complete and fail, the metadata format, a location's
// lineage, retention and key-group state files. The files live in a checkpoint.Storage (the
// public storage SPI, package checkpoint). docs/CHECKPOINTS.md describes the protocol, the
// on-disk layout and the guarantees.
//
// # Files
//
//	config.go        Config of the coordinator: interval, min pause, timeout, tolerable failures
//	action.go        TaskID and the actions the coordinator returns
//	coordinator.go   the Coordinator state machine and its Stats
//	errors.go        the abort reasons and other sentinel errors
//	layout.go        names of directories and files below a root
//	metadata.go      Metadata, the description of a complete snapshot
//	format.go        the versioned metadata file format; WriteMetadata, ReadMetadata
//	catalog.go       Latest, List, DeleteSnapshot
//	retention.go     Retain: which checkpoints and shared files to delete
//	keygroupfile.go  per-key-group state files: KeyGroupWriter, ReadKeyGroup
//	lineage.go       a location's lineage: where "restore latest" resumes, IDs across runs
//
// # Driving the coordinator
//
// One goroutine owns the Coordinator. It ticks it with the job's clock and passes on what the
// tasks report; after each call it executes the returned actions in order. A sketch of the
// runtime's loop:
//
//	c, err := snapshot.NewCoordinator(cfg, tasks) // tasks: every subtask that acks
//	c.SetNextID(restoredID + 1)                     // when restored from a snapshot
//	for {
//		var acts []snapshot.Action
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
//			case snapshot.Trigger:        // inject a barrier with a.ID into every source task
//			case snapshot.Finalize:       // build Metadata from a.Acks, WriteMetadata (async), report back
//			case snapshot.NotifyComplete: // tell tasks; sinks commit everything pending up to a.ID; Retain
//			case snapshot.Abort:          // tell tasks to drop a.ID; DeleteSnapshot its directory
//			case snapshot.FailJob:        // fail the job; on restart call c.TaskFailed
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
package snapshot
