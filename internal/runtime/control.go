package runtime

import (
	"sync"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/connector"
)

// ctrlKind says what a control message asks of a task.
type ctrlKind uint8

const (
	ctrlSplits   ctrlKind = iota // splits assigned to a source reader
	ctrlNoMore                   // the reader gets no further splits
	ctrlTrigger                  // snapshot trig.id: sources inject the barrier; finished tasks snapshot
	ctrlComplete                 // checkpoint id is complete: sinks commit
	ctrlAbort                    // snapshot id will not complete
)

// ctrlMsg is one message on a task's control queue.
type ctrlMsg struct {
	kind   ctrlKind
	splits []connector.Split
	id     int64
	final  bool // ctrlComplete: the job ends after this checkpoint
}

// trigger is what a task needs to take part in a snapshot.
type trigger struct {
	id        int64
	savepoint bool
	storage   checkpoint.Storage
	dir       string // the snapshot's directory in storage
}

// ctrlQueue carries control messages to one task, in order: split assignments from the
// enumerator, and triggers, completions and aborts from the checkpoint loop. One queue for
// both keeps a source's split assignments ordered with its barriers, which makes the
// enumerator's snapshot and the readers' snapshots consistent (see job.trigger).
type ctrlQueue struct {
	mu     sync.Mutex
	msgs   []ctrlMsg
	notify chan struct{} // has a value when something was added since the last take
}

func newCtrlQueue() *ctrlQueue { return &ctrlQueue{notify: make(chan struct{}, 1)} }

func (q *ctrlQueue) add(m ctrlMsg) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// take returns the messages added since the last take.
func (q *ctrlQueue) take() []ctrlMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.msgs
	q.msgs = nil
	return m
}
