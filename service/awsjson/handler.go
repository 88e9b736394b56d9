package awsjson

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Error is an error answer of the service: Type is the exception's name as the service model
// and the SDKs know it ("ResourceNotFoundException"), Status its HTTP status (400 unless said
// otherwise).
type Error struct {
	Type    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf returns an *Error of type typ with status 400.
func Errorf(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// Operation serves one operation: it decodes body, does the work and returns the output shape
// to encode. Errors that are not *Error answer 500 InternalFailure.
type Operation func(ctx context.Context, body []byte) (any, error)

// Op makes an Operation from a typed function: the body decodes into a new In (a
// SerializationException when it does not fit), check (if not nil) validates it, fn serves it.
func Op[In, Out any](check func(*In) error, fn func(ctx context.Context, in *In) (*Out, error)) Operation {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := Unmarshal(body, in); err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				return nil, Errorf("SerializationException", "%v", de)
			}
			return nil, err
		}
		if check != nil {
			if err := check(in); err != nil {
				return nil, err
			}
		}
		return fn(ctx, in)
	}
}

// Handler serves one AWS JSON 1.1 service on POST /: the operation is the part of the
// X-Amz-Target header after TargetPrefix and a dot.
type Handler struct {
	// TargetPrefix is the service's target prefix ("KinesisAnalytics_20180523").
	TargetPrefix string
	// Operations are the operations served, by name.
	Operations map[string]Operation
	// Unsupported names operations the service model has that this server refuses with
	// UnsupportedOperationException, and why.
	Unsupported map[string]string
	// Authenticate, if set, checks a request before its operation runs (SigV4); body is the
	// request body, already read. Its error answers the request.
	Authenticate func(r *http.Request, body []byte) error
	// Logger receives a line per failed request; nil logs nothing.
	Logger *slog.Logger
	// MaxBody bounds the request body; default 72 MiB (a ZIP of code of up to 50 MiB travels
	// inline, base64-encoded).
	MaxBody int64
}

// RequestIDHeader is the header that carries each answer's request ID.
const RequestIDHeader = "x-amzn-RequestId"

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	w.Header().Set(RequestIDHeader, id)
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, h.TargetPrefix+".")
	fail := func(err error) {
		var ae *Error
		if !errors.As(err, &ae) {
			if h.Logger != nil {
				h.Logger.Error("request failed", "operation", op, "request_id", id, "err", err)
			}
			ae = &Error{Type: "InternalFailure", Message: "the server failed to serve the request (request " + id + ")", Status: http.StatusInternalServerError}
		} else if h.Logger != nil {
			h.Logger.Info("request refused", "operation", op, "request_id", id, "type", ae.Type, "message", ae.Message)
		}
		writeError(w, ae)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(&Error{Type: "UnknownOperationException", Message: fmt.Sprintf("%s %s: the API takes POST / with an X-Amz-Target header", r.Method, r.URL.Path), Status: http.StatusNotFound})
		return
	}
	max := h.MaxBody
	if max <= 0 {
		max = 72 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		fail(Errorf("SerializationException", "reading the request body: %v", err))
		return
	}
	if int64(len(body)) > max {
		fail(&Error{Type: "SerializationException", Message: fmt.Sprintf("the request body exceeds %d bytes", max), Status: http.StatusRequestEntityTooLarge})
		return
	}
	if h.Authenticate != nil {
		if err := h.Authenticate(r, body); err != nil {
			fail(err)
			return
		}
	}
	if target == "" || !strings.HasPrefix(target, h.TargetPrefix+".") {
		fail(Errorf("UnknownOperationException", "missing or foreign X-Amz-Target %q: want %s.<Operation>", target, h.TargetPrefix))
		return
	}
	if why, ok := h.Unsupported[op]; ok {
		fail(Errorf("UnsupportedOperationException", "%s: %s", op, why))
		return
	}
	fn, ok := h.Operations[op]
	if !ok {
		fail(Errorf("UnknownOperationException", "unknown operation %q", op))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-amz-json-1.1") && !strings.HasPrefix(ct, "application/json") {
		fail(Errorf("SerializationException", "Content-Type %q: want application/x-amz-json-1.1", ct))
		return
	}
	out, err := fn(r.Context(), body)
	if err != nil {
		fail(err)
		return
	}
	data, err := Marshal(out)
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = w.Write(data)
}

func writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Type, e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-ErrorType", e.Type)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
