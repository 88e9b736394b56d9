package awsconn_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/runnel-io/runnel/awsconn"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		c    awsconn.Config
		want string
	}{
		{awsconn.Config{Endpoint: "127.0.0.1:4567"}, "not an http:// or https:// URL"},
		{awsconn.Config{Endpoint: "ftp://host"}, "not an http:// or https:// URL"},
		{awsconn.Config{MaxAttempts: -1}, "max attempts -1 is negative"},
		{awsconn.Config{DialTimeout: -time.Second}, "dial timeout -1s is negative"},
		{awsconn.Config{AccessKeyID: "k"}, "both an access key ID and a secret"},
		{awsconn.Config{SecretAccessKey: "s"}, "both an access key ID and a secret"},
	} {
		err := tc.c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "awsconn: ") {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.c, err, tc.want)
		}
		if _, err := tc.c.Load(t.Context()); err == nil {
			t.Errorf("Load(%+v) succeeded", tc.c)
		}
	}
	if err := (awsconn.Config{Endpoint: "https://127.0.0.1:4567", AccessKeyID: "k", SecretAccessKey: "s", MaxAttempts: 1}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestLoad checks the defaults Load applies and what it takes from the Config over the
// environment.
func TestLoad(t *testing.T) {
	isolate(t)
	cfg, err := awsconn.Config{}.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != awsconn.DefaultRegion {
		t.Errorf("region %q, want the default %q", cfg.Region, awsconn.DefaultRegion)
	}
	if got := cfg.Retryer().MaxAttempts(); got != awsconn.DefaultMaxAttempts {
		t.Errorf("max attempts %d, want %d", got, awsconn.DefaultMaxAttempts)
	}
	retryable := &smithy.GenericAPIError{Code: "ExistingObjectIsDirectory"}
	if !cfg.Retryer().IsErrorRetryable(retryable) {
		t.Error("ExistingObjectIsDirectory is not retried")
	}

	t.Setenv("AWS_REGION", "eu-west-3")
	cfg, err = awsconn.Config{MaxAttempts: 7}.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-3" || cfg.Retryer().MaxAttempts() != 7 {
		t.Errorf("region %q, attempts %d; want the environment's region and 7", cfg.Region, cfg.Retryer().MaxAttempts())
	}
	cfg, err = awsconn.Config{Region: "ap-south-1", AccessKeyID: "AK", SecretAccessKey: "SK"}.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-south-1" || creds.AccessKeyID != "AK" || creds.SecretAccessKey != "SK" {
		t.Errorf("region %q, credentials %q/%q; want the Config's", cfg.Region, creds.AccessKeyID, creds.SecretAccessKey)
	}
}

func TestEndpointAndPathStyle(t *testing.T) {
	env := aws.String("http://from-env:9000")
	for _, tc := range []struct {
		c        awsconn.Config
		resolved *string
		want     *string
		path     bool
	}{
		{awsconn.Config{}, nil, nil, false},
		{awsconn.Config{PathStyle: true}, nil, nil, true},
		{awsconn.Config{}, env, env, true},
		{awsconn.Config{Endpoint: "http://mine:1"}, env, aws.String("http://mine:1"), true},
	} {
		got := tc.c.BaseEndpoint(tc.resolved)
		if aws.ToString(got) != aws.ToString(tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%+v.BaseEndpoint(%v) = %v, want %v", tc.c, aws.ToString(tc.resolved), aws.ToString(got), aws.ToString(tc.want))
		}
		if p := tc.c.UsePathStyle(got); p != tc.path {
			t.Errorf("%+v.UsePathStyle(%v) = %v, want %v", tc.c, aws.ToString(got), p, tc.path)
		}
	}
}

func TestErrors(t *testing.T) {
	answer := func(status int, code string) error {
		var err error = &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code},
		}}
		return err
	}
	for _, tc := range []struct {
		err                    error
		notFound, noSuchUpload bool
		status                 int
	}{
		{answer(404, "NoSuchKey"), true, true, 404},
		{answer(404, "NotFound"), true, true, 404},
		{answer(404, ""), true, true, 404},
		{answer(404, "NoSuchBucket"), false, false, 404},
		{answer(404, "NoSuchUpload"), false, true, 404},
		{answer(403, "AccessDenied"), false, false, 403},
		{errors.New("dial tcp: refused"), false, false, 0},
	} {
		if got := awsconn.IsNotFound(tc.err); got != tc.notFound {
			t.Errorf("IsNotFound(%v) = %v", tc.err, got)
		}
		if got := awsconn.IsNoSuchUpload(tc.err); got != tc.noSuchUpload {
			t.Errorf("IsNoSuchUpload(%v) = %v", tc.err, got)
		}
		if got := awsconn.StatusCode(tc.err); got != tc.status {
			t.Errorf("StatusCode(%v) = %d, want %d", tc.err, got, tc.status)
		}
	}
	if !awsconn.IsCode(answer(409, "BucketAlreadyOwnedByYou"), "X", "BucketAlreadyOwnedByYou") || awsconn.IsCode(errors.New("x"), "x") {
		t.Error("IsCode")
	}
}

// isolate hides the developer's AWS configuration from the test.
func isolate(t *testing.T) {
	dir := t.TempDir()
	for _, kv := range [][2]string{
		{"AWS_CONFIG_FILE", dir + "/config"}, {"AWS_SHARED_CREDENTIALS_FILE", dir + "/credentials"},
		{"AWS_PROFILE", ""}, {"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}, {"AWS_ENDPOINT_URL", ""},
		{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}, {"AWS_EC2_METADATA_DISABLED", "true"},
	} {
		t.Setenv(kv[0], kv[1])
	}
}
