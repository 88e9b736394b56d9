package kinesis_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
)

// retryLog is a slog.Handler that keeps the errors of the warnings a source logs when it backs
// off and retries a call, which is how a source reports its retries; signal, if set, receives a
// value (without blocking) at each one.
type retryLog struct {
	mu     sync.Mutex
	errs   []error
	signal chan struct{}
}

func (h *retryLog) logger() *slog.Logger { return slog.New(h) }

func (h *retryLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *retryLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "backing off") {
		return nil
	}
	err := errors.New(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if e, ok := a.Value.Any().(error); ok && a.Key == "err" {
			err = e
		}
		return true
	})
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
	if h.signal != nil {
		select {
		case h.signal <- struct{}{}:
		default:
		}
	}
	return nil
}

// WithAttrs and WithGroup keep the handler: the runtime's attributes (operator, subtask) do not
// matter here.
func (h *retryLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *retryLog) WithGroup(string) slog.Handler      { return h }

// errors returns the retries logged so far.
func (h *retryLog) errors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}
