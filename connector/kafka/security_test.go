package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/runnel-io/runnel/connector/kafka"
	"github.com/runnel-io/runnel/eventtime"
	"github.com/runnel-io/runnel/stream"
)

// These tests run the source and the exactly-once sink against kfake with the security
// settings MSK users need: TLS, SASL/PLAIN and SASL/SCRAM, alone and together, and check that a
// wrong password or an untrusted certificate fails clearly and in bounded time. MSK's IAM
// mechanism is not among them: kfake does not implement it (only PLAIN and SCRAM), so only its
// configuration is tested (TestMechanisms).

// testCA is a certificate authority made for one test, and a server certificate it signed
// for the loopback address.
type testCA struct {
	pool   *x509.CertPool // trusts the CA
	server tls.Certificate
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "runnel test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey := key()
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testCA{pool: pool, server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}
}

// securedCluster starts kfake with opts and returns how to reach it as the cluster's user.
func securedCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, "in")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// roundTrip writes 0..n-1 to "in" with the exactly-once sink (a transaction per subtask, at
// the end of the input) and reads them back with a bounded read_committed source.
func roundTrip(c kafka.Cluster, n int) ([]int, error) {
	sink, err := kafka.NewEncodedSink(kafka.SinkConfig{Cluster: c, Topic: "in", Guarantee: kafka.ExactlyOnce, TransactionalIDPrefix: "sec"},
		func(v int) (kafka.Record, error) { return kafka.Record{Value: []byte(strconv.Itoa(v))}, nil })
	if err != nil {
		return nil, err
	}
	env := stream.New("secure-write", stream.Config{Parallelism: 2})
	stream.FromSlice(env, seq(0, n), eventtime.Monotonous(func(v int) int64 { return int64(v) })).SinkTo(sink)
	if err := env.Execute(context.Background()); err != nil {
		return nil, err
	}
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c, Topics: []string{"in"}, Bounded: true, ReadCommitted: true})
	if err != nil {
		return nil, err
	}
	env = stream.New("secure-read", stream.Config{Parallelism: 2})
	got := stream.Collect(stream.Map(stream.FromSource(env, src, eventtime.Monotonous(recordTime)),
		func(r kafka.Record) int {
			v, _ := strconv.Atoi(string(r.Value))
			return v
		}))
	if err := env.Execute(context.Background()); err != nil {
		return nil, err
	}
	vals := got.Values()
	slices.Sort(vals)
	return vals, nil
}

func TestSecurity(t *testing.T) {
	kfakeOnly(t, "it sets up the listeners' TLS and SASL users")
	ca := newTestCA(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name   string
		server []kfake.Opt
		tls    *tls.Config
		sasl   kafka.SASL
	}{
		{"tls", []kfake.Opt{kfake.TLS(serverTLS)}, clientTLS, kafka.SASL{}},
		{"sasl-plain", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", "plain-secret")}, nil,
			kafka.SASL{Mechanism: kafka.Plain, User: "alice", Password: "plain-secret"}},
		{"sasl-scram-sha-256", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "bob", "scram-secret")}, nil,
			kafka.SASL{Mechanism: kafka.ScramSHA256, User: "bob", Password: "scram-secret"}},
		{"sasl-scram-sha-512", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "carol", "scram-secret")}, nil,
			kafka.SASL{Mechanism: kafka.ScramSHA512, User: "carol", Password: "scram-secret"}},
		{"tls-sasl-scram-sha-512", // MSK's SASL/SCRAM listener
			[]kfake.Opt{kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "dave", "msk-secret")}, clientTLS,
			kafka.SASL{Mechanism: kafka.ScramSHA512, User: "dave", Password: "msk-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			brokers := securedCluster(t, tc.server...)
			c := kafka.Cluster{Brokers: brokers, TLS: tc.tls, SASL: tc.sasl, ConnectTimeout: 10 * time.Second}
			got, err := roundTrip(c, 500)
			if err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, got, seq(0, 500))
		})
	}
}

// TestSecurityFailures checks that credentials or certificates the cluster refuses fail a job
// that writes (the exactly-once sink) and a job that only reads within the connect timeout,
// with an error that names the brokers and the cause.
func TestSecurityFailures(t *testing.T) {
	kfakeOnly(t, "it sets up the listeners' TLS and SASL users")
	ca, other := newTestCA(t), newTestCA(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name   string
		server []kfake.Opt
		tls    *tls.Config
		sasl   kafka.SASL
		cause  string // in the error
	}{
		{"wrong password", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "erin", "right")}, nil,
			kafka.SASL{Mechanism: kafka.ScramSHA512, User: "erin", Password: "wrong"}, `SASL SCRAM-SHA-512 credentials of user "erin"`},
		{"wrong password sha-256", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "grace", "right")}, nil,
			kafka.SASL{Mechanism: kafka.ScramSHA256, User: "grace", Password: "wrong"}, `SASL SCRAM-SHA-256 credentials of user "grace"`},
		{"unknown user", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "frank", "right")}, nil,
			kafka.SASL{Mechanism: kafka.Plain, User: "mallory", Password: "right"}, `SASL PLAIN credentials of user "mallory"`},
		{"untrusted certificate", []kfake.Opt{kfake.TLS(serverTLS)},
			&tls.Config{RootCAs: other.pool, MinVersion: tls.VersionTLS12}, kafka.SASL{}, "certificate signed by unknown authority"},
		{"plaintext to a TLS listener", []kfake.Opt{kfake.TLS(serverTLS)}, nil, kafka.SASL{}, "TLS"},
	} {
		for _, job := range []string{"write", "read"} {
			t.Run(tc.name+"/"+job, func(t *testing.T) {
				t.Parallel()
				brokers := securedCluster(t, tc.server...)
				c := kafka.Cluster{Brokers: brokers, TLS: tc.tls, SASL: tc.sasl, ConnectTimeout: 3 * time.Second}
				start := time.Now()
				var err error
				if job == "write" {
					_, err = roundTrip(c, 10)
				} else {
					err = readAll(c)
				}
				if err == nil {
					t.Fatal("no error")
				}
				if el := time.Since(start); el > 30*time.Second {
					t.Fatalf("took %v to fail", el)
				}
				if msg := err.Error(); !strings.Contains(msg, brokers[0]) || !strings.Contains(msg, tc.cause) {
					t.Fatalf("error %q does not name the broker %s and the cause (%q)", msg, brokers[0], tc.cause)
				}
				t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
			})
		}
	}
}

// readAll runs a job that reads "in" to its end with a bounded source.
func readAll(c kafka.Cluster) error {
	src, err := kafka.NewSource(kafka.SourceConfig{Cluster: c, Topics: []string{"in"}, Bounded: true})
	if err != nil {
		return err
	}
	env := stream.New("secure-read", stream.Config{Parallelism: 1})
	stream.FromSource(env, src, eventtime.Monotonous(recordTime)).Discard()
	return env.Execute(context.Background())
}
