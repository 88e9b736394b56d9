// Package client is the client side of `runnel apps`: a Client of a Runnel server's Managed
// Flink API (or of Amazon's: it is the same API) on aws-sdk-go-v2's kinesisanalyticsv2 client,
// with what a command line adds to the bare operations: packaging an executable as the
// application's code, applying a change to the current version, waiting for an operation to
// end, following an application's log, short errors, and the tables `runnel apps` prints.
//
// The requests are the SDK's, signed with SigV4 by the credentials of the AWS configuration
// chain; against a server on a loopback address with no credentials in the environment, the
// client signs with placeholder keys, which such a server accepts (it verifies signatures
// only when it is given credentials).
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/aws/smithy-go"

	"github.com/runnel-io/runnel/awsconn"
)

// DefaultEndpoint is the address `runnel server` listens on by default.
const DefaultEndpoint = "http://127.0.0.1:8080"

// Config says which server a Client talks to.
type Config struct {
	// Endpoint is the server's base URL. Default DefaultEndpoint.
	Endpoint string
	// Region is the region requests are signed for. Default: the AWS configuration chain's,
	// else us-east-1.
	Region string
}

// Client is a client of one server's API.
type Client struct {
	// API is the SDK client, for the operations the methods below do not wrap.
	API      *kda.Client
	endpoint string
	creds    aws.CredentialsProvider
	region   string
}

// New returns a Client of the server cfg names. It reads the AWS configuration but does not
// contact the server.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	conn := awsconn.Config{Endpoint: cfg.Endpoint, Region: cfg.Region}
	if localServer(cfg.Endpoint) && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		// A loopback server without credentials accepts any signature; looking further
		// (shared files, instance roles) would only make the first request slow.
		conn.AccessKeyID, conn.SecretAccessKey = "runnel-local", "runnel-local"
	}
	awsCfg, err := conn.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("--endpoint %s: %w", cfg.Endpoint, err)
	}
	api := kda.NewFromConfig(awsCfg, func(o *kda.Options) { o.BaseEndpoint = conn.BaseEndpoint(o.BaseEndpoint) })
	return &Client{API: api, endpoint: strings.TrimRight(cfg.Endpoint, "/"), creds: awsCfg.Credentials, region: awsCfg.Region}, nil
}

// Endpoint returns the server's base URL.
func (c *Client) Endpoint() string { return c.endpoint }

// localServer reports whether endpoint is an http URL of a loopback host.
func localServer(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Error is an error answer of the API, shortened to what a person reads: the exception's name
// and its message, without the SDK's request framing.
type Error struct {
	Code, Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// short returns err with an API error replaced by an *Error, and an unreachable server said so
// with a hint; other errors unchanged.
func (c *Client) short(err error) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return &Error{Code: api.ErrorCode(), Message: api.ErrorMessage()}
	}
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot reach the server at %s: %v (is 'runnel server' running? --endpoint names another)", c.endpoint, rootCause(err))
	}
	return err
}

// rootCause returns the innermost error err wraps.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// IsNotFound reports whether err is the API's ResourceNotFoundException.
func IsNotFound(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == "ResourceNotFoundException"
	}
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
