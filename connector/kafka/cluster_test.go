package kafka_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connector/kafka"
)

// The tests run against kfake, the in-process cluster that speaks the real protocol
// (transactions included), each test on a cluster of its own. With RUNNEL_KAFKA_TEST_BROKERS
// set ("host:port,..."), the tests that take their cluster from newCluster run against that
// cluster instead: each test makes its topics under a prefix of its own and deletes them, and
// its consumer groups, at the end. RUNNEL_KAFKA_TEST_TLS=1 connects with TLS (the system's
// CAs), and RUNNEL_KAFKA_TEST_SASL=MECHANISM:USER:PASSWORD (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512, in any case) or AWS_MSK_IAM (the AWS default credential chain)
// authenticates. The tests that need what only kfake gives (an outage, TLS and SASL set up by
// the test, refused credentials) skip (kfakeOnly).
const (
	brokersEnv = "RUNNEL_KAFKA_TEST_BROKERS"
	tlsEnv     = "RUNNEL_KAFKA_TEST_TLS"
	saslEnv    = "RUNNEL_KAFKA_TEST_SASL"
)

// testCluster is a test's cluster, and the prefix of its topics (and transactional ids and
// groups) on a shared real cluster; "" on kfake.
type testCluster struct {
	kafka.Cluster
	prefix string
}

// topic returns the name a test's topic (or transactional id, or group) has on the cluster.
func (c testCluster) topic(name string) string { return c.prefix + name }

// newCluster returns the cluster of a test with the given topics of partitions partitions
// each: an in-process fake cluster closed at the end of the test, or the real one of the
// environment.
func newCluster(t testing.TB, partitions int32, topics ...string) testCluster {
	t.Helper()
	if brokers := os.Getenv(brokersEnv); brokers != "" {
		return realCluster(t, strings.Split(brokers, ","), partitions, topics...)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return testCluster{Cluster: kafka.Cluster{Brokers: c.ListenAddrs(), ConnectTimeout: 10 * time.Second}}
}

// kfakeOnly skips t when the tests run against a real cluster: t needs what only kfake gives,
// which why says.
func kfakeOnly(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(brokersEnv) != "" {
		t.Skipf("needs kfake (%s); skipped because %s is set", why, brokersEnv)
	}
}

// envCluster returns a cluster at brokers with the security settings of the environment.
func envCluster(t testing.TB, brokers []string) kafka.Cluster {
	t.Helper()
	c, err := parseEnv(brokers, os.Getenv(tlsEnv), os.Getenv(saslEnv))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// parseEnv returns the cluster at brokers that the values of RUNNEL_KAFKA_TEST_TLS and
// RUNNEL_KAFKA_TEST_SASL describe.
func parseEnv(brokers []string, tlsVal, saslVal string) (kafka.Cluster, error) {
	c := kafka.Cluster{Brokers: brokers, ConnectTimeout: 30 * time.Second}
	if tlsVal != "" {
		on, err := strconv.ParseBool(tlsVal)
		if err != nil {
			return c, fmt.Errorf("%s=%q: want 1 or 0", tlsEnv, tlsVal)
		}
		if on {
			c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	if saslVal == "" {
		return c, nil
	}
	mech, rest, _ := strings.Cut(saslVal, ":")
	c.SASL.Mechanism = kafka.Mechanism(strings.ToUpper(mech))
	switch c.SASL.Mechanism {
	case kafka.AWSMSKIAM:
		if rest != "" {
			return c, fmt.Errorf("%s: %s takes no user or password (credentials come from the AWS default chain)", saslEnv, kafka.AWSMSKIAM)
		}
	case kafka.Plain, kafka.ScramSHA256, kafka.ScramSHA512:
		user, pass, ok := strings.Cut(rest, ":")
		if !ok || user == "" {
			return c, fmt.Errorf("%s: want %s:USER:PASSWORD", saslEnv, c.SASL.Mechanism)
		}
		c.SASL.User, c.SASL.Password = user, pass
	default:
		return c, fmt.Errorf("%s: unknown mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (as MECHANISM:USER:PASSWORD) or AWS_MSK_IAM", saslEnv, mech)
	}
	return c, nil
}

// realCluster makes the test's topics on the cluster at brokers under a fresh prefix and waits
// until every partition has a leader. At the end of the test it deletes every topic and
// consumer group with that prefix (its transactional ids expire on their own).
func realCluster(t testing.TB, brokers []string, partitions int32, topics ...string) testCluster {
	t.Helper()
	c := testCluster{Cluster: envCluster(t, brokers), prefix: fmt.Sprintf("runnel-test-%016x-", rand.Uint64())}
	adm := kadm.NewClient(client(t, c))
	t.Cleanup(func() { dropPrefix(t, adm, c.prefix) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if len(topics) == 0 {
		return c
	}
	named := make([]string, len(topics))
	for i, tp := range topics {
		named[i] = c.topic(tp)
	}
	res, err := adm.CreateTopics(ctx, partitions, -1, nil, named...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("creating topics %v on %v: %v", named, c.Brokers, err)
	}
	// The controller has made the topics; the brokers' metadata may lag behind it.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		details, err := adm.ListTopics(ctx, named...)
		if err == nil && ready(details, named, partitions) {
			return c
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("topics %v on %v without a leader for every partition after a minute: %v %v", named, c.Brokers, err, details)
		}
	}
}

// ready reports whether details lists every topic of names with partitions partitions, each
// with a leader.
func ready(details kadm.TopicDetails, names []string, partitions int32) bool {
	for _, name := range names {
		d, ok := details[name]
		if !ok || d.Err != nil || len(d.Partitions) != int(partitions) {
			return false
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// dropPrefix deletes the topics and consumer groups whose names start with prefix.
func dropPrefix(t testing.TB, adm *kadm.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		t.Errorf("listing topics to delete those of prefix %s: %v", prefix, err)
		return
	}
	var topics []string
	for _, name := range listed.Names() {
		if strings.HasPrefix(name, prefix) {
			topics = append(topics, name)
		}
	}
	if len(topics) > 0 {
		res, err := adm.DeleteTopics(ctx, topics...)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Errorf("deleting topics %v: %v", topics, err)
		}
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Errorf("listing groups to delete those of prefix %s: %v", prefix, err)
		return
	}
	var mine []string
	for _, g := range groups.Groups() {
		if strings.HasPrefix(g, prefix) {
			mine = append(mine, g)
		}
	}
	if len(mine) > 0 {
		res, err := adm.DeleteGroups(ctx, mine...)
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Errorf("deleting consumer groups %v: %v", mine, err)
		}
	}
	t.Logf("deleted topics %v and consumer groups %v", topics, mine)
}

func client(t testing.TB, c testCluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(kafka.ClientOpts(c.Cluster), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestParseEnv checks how the environment's security settings become a Cluster.
func TestParseEnv(t *testing.T) {
	for _, tc := range []struct {
		tls, sasl string
		want      kafka.SASL
		wantTLS   bool
		err       string
	}{
		{"", "", kafka.SASL{}, false, ""},
		{"1", "", kafka.SASL{}, true, ""},
		{"0", "", kafka.SASL{}, false, ""},
		{"yes", "", kafka.SASL{}, false, "want 1 or 0"},
		{"1", "scram-sha-512:alice:pa:ss", kafka.SASL{Mechanism: kafka.ScramSHA512, User: "alice", Password: "pa:ss"}, true, ""},
		{"", "PLAIN:bob:secret", kafka.SASL{Mechanism: kafka.Plain, User: "bob", Password: "secret"}, false, ""},
		{"", "SCRAM-SHA-256:carol:", kafka.SASL{Mechanism: kafka.ScramSHA256, User: "carol"}, false, ""},
		{"1", "aws_msk_iam", kafka.SASL{Mechanism: kafka.AWSMSKIAM}, true, ""},
		{"", "AWS_MSK_IAM:user:pass", kafka.SASL{}, false, "takes no user"},
		{"", "PLAIN", kafka.SASL{}, false, "want PLAIN:USER:PASSWORD"},
		{"", "PLAIN::secret", kafka.SASL{}, false, "want PLAIN:USER:PASSWORD"},
		{"", "GSSAPI:dave:x", kafka.SASL{}, false, `unknown mechanism "GSSAPI"`},
	} {
		c, err := parseEnv([]string{"b:9092"}, tc.tls, tc.sasl)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("tls %q sasl %q: error %v, want one containing %q", tc.tls, tc.sasl, err, tc.err)
			}
			continue
		}
		if err != nil || c.SASL.Mechanism != tc.want.Mechanism || c.SASL.User != tc.want.User || c.SASL.Password != tc.want.Password ||
			(c.TLS != nil) != tc.wantTLS {
			t.Errorf("tls %q sasl %q: %+v TLS %v, %v; want %+v TLS %v", tc.tls, tc.sasl, c.SASL, c.TLS != nil, err, tc.want, tc.wantTLS)
		}
	}
}

// TestRealClusterTopics runs the real-cluster path of newCluster against a kfake with a
// SCRAM user, described as RUNNEL_KAFKA_TEST_SASL would: the test's topics get its prefix and
// partitions, its clients authenticate with the environment's credentials, and when it ends its
// topics and consumer groups are gone and other topics are not.
func TestRealClusterTopics(t *testing.T) {
	kfakeOnly(t, "a kfake with a SCRAM user stands for the real cluster")
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "runnel", "secret"),
		kfake.SeedTopics(1, "bystander"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	t.Setenv(tlsEnv, "")
	t.Setenv(saslEnv, "scram-sha-512:runnel:secret")
	var prefixes []string
	for i := range 2 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			c := realCluster(t, fake.ListenAddrs(), 3, "in", "out")
			prefixes = append(prefixes, c.prefix)
			if !strings.HasPrefix(c.topic("in"), "runnel-test-") || c.topic("in") != c.prefix+"in" {
				t.Fatalf("topic in is called %q on the cluster", c.topic("in"))
			}
			ctx := context.Background()
			adm := kadm.NewClient(client(t, c))
			details, err := adm.ListTopics(ctx, c.topic("in"), c.topic("out"))
			if err != nil || !ready(details, []string{c.topic("in"), c.topic("out")}, 3) {
				t.Fatalf("topics %v (%v), want in and out with 3 partitions each under %s", details, err, c.prefix)
			}
			produce(t, c, "in", 0, 30)
			if got := len(consume(t, c, "in", false)); got != 30 {
				t.Fatalf("read %d records back from %s, want 30", got, c.topic("in"))
			}
			var offs kadm.Offsets
			offs.AddOffset(c.topic("in"), 0, 1, -1)
			if resp, err := adm.CommitOffsets(ctx, c.topic("g"), offs); err != nil || resp.Error() != nil {
				t.Fatalf("committing to group %s: %v %v", c.topic("g"), err, resp.Error())
			}
		})
	}
	if len(prefixes) != 2 || prefixes[0] == prefixes[1] {
		t.Fatalf("prefixes %v: want two different ones", prefixes)
	}
	// The subtests' cleanups ran when they ended.
	adm := kadm.NewClient(client(t, testCluster{Cluster: envCluster(t, fake.ListenAddrs())}))
	ctx := context.Background()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := topics.Names(); !slices.Equal(names, []string{"bystander"}) || len(groups.Groups()) != 0 {
		t.Fatalf("after the tests, topics %v and groups %v; want only bystander and no group", names, groups.Groups())
	}
}
