package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/runnel-io/runnel/checkpoint"
	"github.com/runnel-io/runnel/stream"
)

// The REST API, served on Options.RESTAddress while the job runs:
//
//	POST /v1/savepoints  {"targetDirectory": "/sp", "stop": false}  → 200 {"location": "/sp/savepoint-7-…"}
//	GET  /v1/job         → 200 JobInfo
//
// Errors are {"error": {"code": "...", "message": "..."}} with the status of their code (the
// codes of APIError and apiStatus). A client error (4xx) says the request cannot succeed as it
// is: a bad target directory (400 invalid_target), a stop-with-savepoint already in progress
// (409 stop_in_progress), a job that is not running (409 not_running).

// SavepointRequest is the body of POST /v1/savepoints.
type SavepointRequest struct {
	// TargetDirectory is where the savepoint goes (a path or storage URL); empty means the
	// job's --savepoint-dir.
	TargetDirectory string `json:"targetDirectory,omitempty"`
	// Stop stops the job once the savepoint is complete.
	Stop bool `json:"stop,omitempty"`
}

// SavepointResponse is the answer to a successful POST /v1/savepoints.
type SavepointResponse struct {
	// Location is the savepoint's directory: what --from-savepoint takes.
	Location string `json:"location"`
}

// APIError is an error answer of the REST API.
type APIError struct {
	// Status is the HTTP status, set from Code.
	Status int `json:"-"`
	// Code is a stable identifier of the kind of error (see the constants Err...).
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}

// Error returns the message, prefixed by the code.
func (e *APIError) Error() string { return "app: " + e.Code + ": " + e.Message }

// Codes of APIError.
const (
	ErrBadRequest       = "bad_request"        // 400: malformed body, no target directory
	ErrInvalidTarget    = "invalid_target"     // 400: the target directory cannot hold a savepoint
	ErrNotRunning       = "not_running"        // 409: the job has ended or is stopping
	ErrStopInProgress   = "stop_in_progress"   // 409: a stop-with-savepoint is already in progress
	ErrUnavailable      = "unavailable"        // 503: the job is not running yet
	ErrSavepointFailed  = "savepoint_failed"   // 500: the savepoint was tried and failed
	ErrNotFound         = "not_found"          // 404: no such endpoint
	ErrMethodNotAllowed = "method_not_allowed" // 405: the endpoint takes another method
)

// apiStatus is the HTTP status of each code: the one table both sides read.
var apiStatus = map[string]int{
	ErrBadRequest:       http.StatusBadRequest,
	ErrInvalidTarget:    http.StatusBadRequest,
	ErrNotRunning:       http.StatusConflict,
	ErrStopInProgress:   http.StatusConflict,
	ErrUnavailable:      http.StatusServiceUnavailable,
	ErrSavepointFailed:  http.StatusInternalServerError,
	ErrNotFound:         http.StatusNotFound,
	ErrMethodNotAllowed: http.StatusMethodNotAllowed,
}

func apiError(code, format string, args ...any) *APIError {
	return &APIError{Status: apiStatus[code], Code: code, Message: fmt.Sprintf(format, args...)}
}

// errJobEnded cancels savepoint requests still waiting when the job ends.
var errJobEnded = errors.New("the job ended")

// server is the REST API of one job.
type server struct {
	st           *status
	savepoints   *stream.Savepoints
	savepointDir string
	s3Endpoint   string // added to s3:// targets that name no endpoint (Options.S3Endpoint)
	// ended is cancelled with errJobEnded when the job ends.
	ended context.Context
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/savepoints", s.savepoint)
	mux.HandleFunc("GET /v1/job", s.job)
	mux.HandleFunc("GET /v1/metrics", s.metrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/savepoints":
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, apiError(ErrMethodNotAllowed, "%s /v1/savepoints: use POST", r.Method))
		case "/v1/job":
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, apiError(ErrMethodNotAllowed, "%s /v1/job: use GET", r.Method))
		default:
			writeError(w, apiError(ErrNotFound, "no endpoint %s %s; try POST /v1/savepoints or GET /v1/job", r.Method, r.URL.Path))
		}
	})
	return mux
}

func (s *server) job(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.st.info())
}

func (s *server) savepoint(w http.ResponseWriter, r *http.Request) {
	var req SavepointRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, apiError(ErrBadRequest, "reading the request: %v", err))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, apiError(ErrBadRequest, "malformed request body, want {\"targetDirectory\": \"...\", \"stop\": false}: %v", err))
			return
		}
	}
	dir := withEndpoint(req.TargetDirectory, s.s3Endpoint)
	if dir == "" {
		dir = s.savepointDir // Execute already gave it the endpoint
	}
	if dir == "" {
		writeError(w, apiError(ErrBadRequest, "no target directory: name one (targetDirectory) or start the job with --savepoint-dir"))
		return
	}
	switch st := s.st.current(); st {
	case StatusRunning:
	case StatusCreated:
		writeError(w, apiError(ErrUnavailable, "the job is starting; try again shortly"))
		return
	default:
		writeError(w, apiError(ErrNotRunning, "the job is not running (%s)", st))
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	defer context.AfterFunc(s.ended, func() { cancel(errJobEnded) })()
	loc, err := s.savepoints.Take(ctx, dir, req.Stop)
	switch {
	case err == nil:
		s.st.log.Info("savepoint complete", "location", loc, "stop", req.Stop)
		writeJSON(w, http.StatusOK, SavepointResponse{Location: loc})
	case errors.Is(context.Cause(ctx), errJobEnded):
		writeError(w, apiError(ErrNotRunning, "the job ended before the savepoint completed: %v", err))
	case errors.Is(err, checkpoint.ErrUnsupportedScheme), errors.Is(err, checkpoint.ErrUnusableLocation):
		writeError(w, apiError(ErrInvalidTarget, "%v", err))
	case errors.Is(err, stream.ErrStopInProgress):
		writeError(w, apiError(ErrStopInProgress, "the job is already stopping with a savepoint: %v", err))
	case errors.Is(err, stream.ErrStopping):
		writeError(w, apiError(ErrNotRunning, "the job is stopping: %v", err))
	default:
		s.st.log.Warn("savepoint failed", "dir", dir, "err", err)
		writeError(w, apiError(ErrSavepointFailed, "savepoint into %s: %v", dir, err))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, e *APIError) {
	writeJSON(w, e.Status, struct {
		Error *APIError `json:"error"`
	}{e})
}

// serve listens on addr and serves the API until shutdown is called; it returns the bound
// address. shutdown waits up to 5 s for requests in progress, then closes the server, and returns
// once the server's goroutine has ended.
func (s *server) serve(ctx context.Context, addr string) (bound string, shutdown func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("app: REST API on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed after Shutdown
	}()
	shutdown = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-done
	}
	return ln.Addr().String(), shutdown, nil
}

// Savepoint asks the job whose REST API is at address (a URL such as http://127.0.0.1:8081, or
// host:port) for a savepoint into req.TargetDirectory (empty: the job's --savepoint-dir) and
// returns its location. It waits until the savepoint is complete or ctx ends. Errors of the API
// are returned as *APIError.
func Savepoint(ctx context.Context, address string, req SavepointRequest) (string, error) {
	base := address
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/v1/savepoints", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("app: savepoint: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Close = true // one request: keep no idle connection behind
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return "", fmt.Errorf("app: savepoint: is a job running with --rest-address %s? %w", address, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("app: savepoint: reading the answer of %s: %w", address, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error *APIError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == nil {
			return "", fmt.Errorf("app: savepoint: %s answered %s: %s", address, resp.Status, bytes.TrimSpace(b))
		}
		e.Error.Status = resp.StatusCode
		return "", e.Error
	}
	var out SavepointResponse
	if err := json.Unmarshal(b, &out); err != nil || out.Location == "" {
		return "", fmt.Errorf("app: savepoint: %s answered without a location: %s", address, bytes.TrimSpace(b))
	}
	return out.Location, nil
}
