package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/runnel-io/runnel/internal/testing/s3test"
	"github.com/runnel-io/runnel/service"
)

// awsCLI is the AWS CLI v2 Debian's awscli package installs (`make test` installs it).
const awsCLI = "/usr/bin/aws"

// cli runs the AWS CLI against the server and decodes its JSON answer into out (if not nil).
// Any client error fails the test.
type cli struct {
	t        *testing.T
	endpoint string
	env      []string
	calls    int
}

func (c *cli) run(out any, args ...string) {
	c.t.Helper()
	c.calls++
	cmd := exec.Command(awsCLI, append([]string{"kinesisanalyticsv2", "--endpoint-url", c.endpoint, "--output", "json"}, args...)...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("aws kinesisanalyticsv2 %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if out != nil && stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			c.t.Fatalf("aws kinesisanalyticsv2 %s: decoding %q: %v", args[0], stdout.String(), err)
		}
	}
}

type cliApp struct {
	ApplicationDetail struct {
		ApplicationStatus    string
		ApplicationVersionId int64
		CreateTimestamp      string
		ApplicationARN       string
	}
}

func (c *cli) describe(name string) cliApp {
	c.t.Helper()
	var d cliApp
	c.run(&d, "describe-application", "--application-name", name)
	return d
}

func (c *cli) wait(name, status string) cliApp {
	c.t.Helper()
	for range 4000 {
		if d := c.describe(name); d.ApplicationDetail.ApplicationStatus == status {
			return d
		}
		sleepPoll()
	}
	c.t.Fatalf("application %s not %s within minutes", name, status)
	return cliApp{}
}

// TestAWSCLILifecycle drives an application through its whole life with the real AWS CLI v2:
// create from a ZIP in S3 (versitygw), start, snapshot, update the parallelism while it runs,
// list versions and operations, roll back, tag, stop and delete, with zero client errors; the
// application's exactly-once output has nothing lost or repeated across the transitions.
func TestAWSCLILifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI, an S3 server and applications")
	}
	if _, err := os.Stat(awsCLI); err != nil {
		t.Skipf("the AWS CLI v2 is not installed at %s (make test installs it: apt-get install -y awscli)", awsCLI)
	}
	s3srv := s3test.Start(t)
	s3srv.SetEnv(t)
	bucket := s3srv.Bucket(t)
	if _, err := s3srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
		Key: aws.String("apps/counts.zip"), Body: bytes.NewReader(testappZip(t))}); err != nil {
		t.Fatal(err)
	}
	ts := startServerWith(t, service.Config{S3Endpoint: s3srv.Endpoint})
	out := t.TempDir()
	cfg := map[string]any{
		"ApplicationCodeConfiguration": map[string]any{"CodeContentType": "ZIPFILE",
			"CodeContent": map[string]any{"S3ContentLocation": map[string]any{"BucketARN": "arn:aws:s3:::" + bucket, "FileKey": "apps/counts.zip"}}},
		"EnvironmentProperties": map[string]any{"PropertyGroups": []any{map[string]any{"PropertyGroupId": "job",
			"PropertyMap": map[string]string{"output": out, "records": "1000000", "rate": "3000"}}}},
		"FlinkApplicationConfiguration": map[string]any{
			"CheckpointConfiguration":  map[string]any{"ConfigurationType": "CUSTOM", "CheckpointingEnabled": true, "CheckpointInterval": 200, "MinPauseBetweenCheckpoints": 0},
			"ParallelismConfiguration": map[string]any{"ConfigurationType": "CUSTOM", "Parallelism": 1, "ParallelismPerKPU": 1, "AutoScalingEnabled": false},
		},
		"ApplicationSnapshotConfiguration": map[string]any{"SnapshotsEnabled": true},
	}
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1", "AWS_PAGER=", "AWS_ENDPOINT_URL=")
	c := &cli{t: t, endpoint: "http://" + ts.addr, env: env}

	var created cliApp
	c.run(&created, "create-application", "--application-name", "counts", "--runtime-environment", "FLINK-1_20",
		"--service-execution-role", "arn:aws:iam::123456789012:role/runnel", "--application-configuration", "file://"+cfgFile,
		"--tags", "Key=team,Value=data")
	if created.ApplicationDetail.ApplicationStatus != "READY" {
		t.Fatalf("created: %+v", created)
	}
	c.run(nil, "start-application", "--application-name", "counts",
		"--run-configuration", `{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"}}`)
	c.wait("counts", "RUNNING")

	c.run(nil, "create-application-snapshot", "--application-name", "counts", "--snapshot-name", "first")
	for range 2000 {
		var snap struct {
			SnapshotDetails struct{ SnapshotStatus string }
		}
		c.run(&snap, "describe-application-snapshot", "--application-name", "counts", "--snapshot-name", "first")
		if snap.SnapshotDetails.SnapshotStatus == "READY" {
			break
		}
		sleepPoll()
	}

	c.run(nil, "update-application", "--application-name", "counts", "--current-application-version-id", "1",
		"--application-configuration-update", `{"FlinkApplicationConfigurationUpdate":{"ParallelismConfigurationUpdate":{"ConfigurationTypeUpdate":"CUSTOM","ParallelismUpdate":2}}}`)
	d := c.wait("counts", "RUNNING")
	if d.ApplicationDetail.ApplicationVersionId != 2 {
		t.Fatalf("version %d after the update, want 2", d.ApplicationDetail.ApplicationVersionId)
	}

	var versions struct {
		ApplicationVersionSummaries []struct{ ApplicationVersionId int64 }
	}
	c.run(&versions, "list-application-versions", "--application-name", "counts")
	if len(versions.ApplicationVersionSummaries) != 2 {
		t.Errorf("versions %+v, want 2", versions)
	}

	c.run(nil, "rollback-application", "--application-name", "counts", "--current-application-version-id", "2")
	d = c.wait("counts", "RUNNING")
	if d.ApplicationDetail.ApplicationVersionId != 3 {
		t.Fatalf("version %d after the rollback, want 3", d.ApplicationDetail.ApplicationVersionId)
	}
	// Debian's AWS CLI (2.9.19) predates ListApplicationOperations (2024): the operations are
	// listed with the Go SDK, whose client has it.
	ops, err := ts.client.ListApplicationOperations(context.Background(), &kda.ListApplicationOperationsInput{ApplicationName: aws.String("counts")})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range ops.ApplicationOperationInfoList {
		kinds = append(kinds, aws.ToString(o.Operation)+":"+string(o.OperationStatus))
	}
	if want := "RollbackApplication:SUCCESSFUL UpdateApplication:SUCCESSFUL StartApplication:SUCCESSFUL CreateApplication:SUCCESSFUL"; strings.Join(kinds, " ") != want {
		t.Errorf("operations %v, want %s", kinds, want)
	}

	arn := d.ApplicationDetail.ApplicationARN
	c.run(nil, "tag-resource", "--resource-arn", arn, "--tags", "Key=env,Value=test")
	var tags struct{ Tags []struct{ Key, Value string } }
	c.run(&tags, "list-tags-for-resource", "--resource-arn", arn)
	if len(tags.Tags) != 2 {
		t.Errorf("tags %+v, want team and env", tags)
	}
	c.run(nil, "untag-resource", "--resource-arn", arn, "--tag-keys", "team")

	c.run(nil, "stop-application", "--application-name", "counts")
	d = c.wait("counts", "READY")
	checkPrefix(t, out, 12)
	c.run(nil, "delete-application", "--application-name", "counts", "--create-timestamp", d.ApplicationDetail.CreateTimestamp)
	var list struct{ ApplicationSummaries []any }
	c.run(&list, "list-applications")
	if len(list.ApplicationSummaries) != 0 {
		t.Errorf("applications after the delete: %+v", list)
	}
	t.Logf("%d AWS CLI calls, no client error", c.calls)
}

// checkPrefix checks the testapp's committed output below dir after a stop: for each key, the
// running counts 1..n exactly once for some n (what was committed up to the stop), nothing
// missing in between, nothing twice.
func checkPrefix(t *testing.T, dir string, keys int64) {
	t.Helper()
	counts := map[int64][]int64{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
			if f := strings.Fields(l); len(f) == 3 {
				k, _ := strconv.ParseInt(f[0], 10, 64)
				n, _ := strconv.ParseInt(f[1], 10, 64)
				counts[k] = append(counts[k], n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for k := range keys {
		cs := counts[k]
		sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
		for i, n := range cs {
			if n != int64(i+1) {
				t.Fatalf("key %d: counts %v around %d, want 1..%d once each", k, cs[max(0, i-2):min(len(cs), i+3)], i+1, len(cs))
			}
		}
		total += len(cs)
	}
	if total == 0 {
		t.Fatal("nothing was committed")
	}
	t.Logf("%d records committed exactly once across the transitions", total)
}
