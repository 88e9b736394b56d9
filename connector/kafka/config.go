package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultConnectTimeout bounds how long a source or sink waits for the cluster before it fails
// with an error naming the brokers.
const DefaultConnectTimeout = 30 * time.Second

// Mechanism names a SASL mechanism.
type Mechanism string

// The SASL mechanisms Cluster.SASL supports.
const (
	// NoSASL is the zero Mechanism: no authentication (or TLS client certificates).
	NoSASL Mechanism = ""
	// Plain is SASL/PLAIN with User and Password; use it only over TLS.
	Plain Mechanism = "PLAIN"
	// ScramSHA256 is SASL/SCRAM-SHA-256 with User and Password (MSK's SCRAM uses SHA-512).
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	// ScramSHA512 is SASL/SCRAM-SHA-512 with User and Password.
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
	// AWSMSKIAM is Amazon MSK's IAM access control. Credentials come from SASL.AWSCredentials
	// or, when that is nil, from aws-sdk-go-v2's default chain (environment, shared config and
	// credentials files, web identity, ECS and EC2 roles). MSK requires TLS with it.
	AWSMSKIAM Mechanism = "AWS_MSK_IAM"
)

// SASL configures authentication. The zero SASL authenticates nothing.
type SASL struct {
	Mechanism Mechanism
	// User and Password are for Plain and the SCRAM mechanisms.
	User, Password string
	// AWSCredentials, for AWSMSKIAM, returns the credentials to sign with; it is called at
	// every connection, so it may refresh them. Nil uses aws-sdk-go-v2's default chain.
	AWSCredentials func(ctx context.Context) (saslaws.Auth, error)
}

// Cluster says how to reach a Kafka cluster (Apache Kafka, Amazon MSK, Redpanda). Source and
// Sink configurations embed it. The zero value is invalid: Brokers is required.
type Cluster struct {
	// Brokers are the seed brokers, "host:port".
	Brokers []string
	// TLS, if not nil, encrypts connections with this configuration (MSK's TLS listeners:
	// &tls.Config{} is enough). Nil is plaintext.
	TLS *tls.Config
	// SASL authenticates connections; the zero value does not.
	SASL SASL
	// ClientID is sent to the brokers; default "runnel".
	ClientID string
	// ConnectTimeout bounds the first contact with the cluster (listing partitions, the first
	// requests of a writer) and each request's retries afterwards; default
	// DefaultConnectTimeout. An unreachable cluster fails within it.
	ConnectTimeout time.Duration
}

// validate checks c; what names the connector part in the errors ("source", "sink").
func (c *Cluster) validate(what string) error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("kafka: %s: no brokers", what)
	}
	if c.ConnectTimeout < 0 {
		return fmt.Errorf("kafka: %s: negative connect timeout %v", what, c.ConnectTimeout)
	}
	switch c.SASL.Mechanism {
	case NoSASL, AWSMSKIAM:
	case Plain, ScramSHA256, ScramSHA512:
		if c.SASL.User == "" {
			return fmt.Errorf("kafka: %s: SASL %s without a user", what, c.SASL.Mechanism)
		}
	default:
		return fmt.Errorf("kafka: %s: unknown SASL mechanism %q", what, c.SASL.Mechanism)
	}
	return nil
}

func (c *Cluster) connectTimeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// opts returns the kgo options that reach the cluster.
func (c *Cluster) opts() []kgo.Opt {
	id := c.ClientID
	if id == "" {
		id = "runnel"
	}
	t := c.connectTimeout()
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
		kgo.DialTimeout(min(t, 10*time.Second)),
		kgo.RetryTimeout(t),
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	if m := c.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

func (c *Cluster) mechanism() sasl.Mechanism {
	s := c.SASL
	switch s.Mechanism {
	case Plain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
	case ScramSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
	case ScramSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
	case AWSMSKIAM:
		if s.AWSCredentials != nil {
			return saslaws.ManagedStreamingIAM(s.AWSCredentials)
		}
		return saslaws.ManagedStreamingIAM(defaultAWSCredentials)
	}
	return nil
}

// defaultAWSCredentials loads credentials from aws-sdk-go-v2's default chain.
func defaultAWSCredentials(ctx context.Context) (saslaws.Auth, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return saslaws.Auth{}, fmt.Errorf("kafka: loading AWS configuration for MSK IAM: %w", err)
	}
	if cfg.Credentials == nil {
		return saslaws.Auth{}, errors.New("kafka: no AWS credentials for MSK IAM")
	}
	cr, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return saslaws.Auth{}, fmt.Errorf("kafka: retrieving AWS credentials for MSK IAM: %w", err)
	}
	return saslaws.Auth{AccessKey: cr.AccessKeyID, SecretKey: cr.SecretAccessKey, SessionToken: cr.SessionToken, UserAgent: "runnel"}, nil
}
