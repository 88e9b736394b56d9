package service_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service"
)

var (
	buildOnce sync.Once
	zipBytes  []byte
	buildErr  error
)

// testappZip builds service/internal/testapp once and returns it zipped as bootstrap.
func testappZip(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runnel-testapp-")
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "bootstrap")
		out, err := exec.Command("go", "build", "-o", bin, "./internal/testapp").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		zipBytes, buildErr = zipFile(bin)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return zipBytes
}

func zipFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// testServer runs a Server on a free loopback port and returns a client of its API.
type testServer struct {
	*service.Server
	addr   string
	client *kda.Client
	logs   *bytes.Buffer
}

func startServer(t *testing.T, dataDir string) *testServer {
	t.Helper()
	return startServerWith(t, service.Config{DataDir: dataDir})
}

// startServerWith runs a Server configured by cfg (on a free port, in a temporary data
// directory unless cfg says otherwise).
func startServerWith(t *testing.T, cfg service.Config) *testServer {
	t.Helper()
	var logs bytes.Buffer
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.StartTimeout = 2 * time.Minute
	cfg.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	srv, err := service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	client := kda.New(kda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	return &testServer{Server: srv, addr: addr, client: client, logs: &logs}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// waitStatus polls DescribeApplication until the application has status want.
func (ts *testServer) waitStatus(t *testing.T, name string, want types.ApplicationStatus) *types.ApplicationDetail {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last types.ApplicationStatus
	for time.Now().Before(deadline) {
		out, err := ts.client.DescribeApplication(context.Background(), &kda.DescribeApplicationInput{ApplicationName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		last = out.ApplicationDetail.ApplicationStatus
		if last == want {
			return out.ApplicationDetail
		}
		time.Sleep(50 * time.Millisecond) // polling the service's status, as a client does
	}
	t.Fatalf("application %s stayed %s, want %s; the application's log:\n%s", name, last, want, ts.appLog(name))
	return nil
}

func (ts *testServer) appLog(name string) string {
	b, _ := os.ReadFile(filepath.Join(ts.dataDir(), "apps", name, "logs", "current.log"))
	return string(b)
}

func (ts *testServer) dataDir() string { return ts.Server.DataDir() }

func createInput(name string, code []byte, props map[string]string, parallelism int32) *kda.CreateApplicationInput {
	return &kda.CreateApplicationInput{
		ApplicationName:      aws.String(name),
		RuntimeEnvironment:   types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/runnel"),
		ApplicationConfiguration: &types.ApplicationConfiguration{
			ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
				CodeContentType: types.CodeContentTypeZipfile,
				CodeContent:     &types.CodeContent{ZipFileContent: code},
			},
			EnvironmentProperties: &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{
				{PropertyGroupId: aws.String("job"), PropertyMap: props}}},
			FlinkApplicationConfiguration: &types.FlinkApplicationConfiguration{
				CheckpointConfiguration: &types.CheckpointConfiguration{ConfigurationType: types.ConfigurationTypeCustom,
					CheckpointingEnabled: aws.Bool(true), CheckpointInterval: aws.Int64(200), MinPauseBetweenCheckpoints: aws.Int64(0)},
				ParallelismConfiguration: &types.ParallelismConfiguration{ConfigurationType: types.ConfigurationTypeCustom,
					Parallelism: aws.Int32(parallelism), ParallelismPerKPU: aws.Int32(1), AutoScalingEnabled: aws.Bool(false)},
			},
			ApplicationSnapshotConfiguration: &types.ApplicationSnapshotConfiguration{SnapshotsEnabled: aws.Bool(true)},
		},
	}
}

// checkExactlyOnce checks the testapp's committed output below dir: for each of keys keys, the
// running counts 1..n exactly once, n the records of that key.
func checkExactlyOnce(t *testing.T, dir string, records, keys int64) {
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
			if l == "" {
				continue
			}
			f := strings.Fields(l)
			k, _ := strconv.ParseInt(f[0], 10, 64)
			c, _ := strconv.ParseInt(f[1], 10, 64)
			counts[k] = append(counts[k], c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		cs := counts[k]
		sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
		want := records / keys
		if k < records%keys {
			want++
		}
		if int64(len(cs)) != want {
			t.Errorf("key %d: %d lines, want %d (nothing lost, nothing twice)", k, len(cs), want)
			continue
		}
		for i, c := range cs {
			if c != int64(i+1) {
				t.Errorf("key %d: counts %v..., want 1..%d once each", k, cs[max(0, i-2):min(len(cs), i+3)], want)
				break
			}
		}
	}
}

// TestLifecycleThroughTheSDK drives an application through the Go SDK's client: create from a
// ZIP, start, snapshot, update the parallelism while it runs, stop, start again from the
// latest snapshot until the bounded job finishes; the output is exactly once.
func TestLifecycleThroughTheSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs an application")
	}
	ctx := context.Background()
	ts := startServer(t, t.TempDir())
	out := t.TempDir()
	const records, keys = 20000, 12
	props := map[string]string{"output": out, "records": fmt.Sprint(records), "rate": "3000", "keys": fmt.Sprint(keys)}
	created, err := ts.client.CreateApplication(ctx, createInput("clicks", testappZip(t), props, 2))
	if err != nil {
		t.Fatal(err)
	}
	d := created.ApplicationDetail
	if aws.ToString(d.ApplicationARN) != "arn:aws:kinesisanalytics:us-east-1:123456789012:application/clicks" || d.ApplicationStatus != types.ApplicationStatusReady || aws.ToInt64(d.ApplicationVersionId) != 1 {
		t.Fatalf("created %+v", d)
	}
	if _, err := ts.client.CreateApplication(ctx, createInput("clicks", testappZip(t), props, 2)); !isType[*types.ResourceInUseException](err) {
		t.Fatalf("creating it twice: %v, want ResourceInUseException", err)
	}

	if _, err := ts.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("clicks")}); err != nil {
		t.Fatal(err)
	}
	ts.waitStatus(t, "clicks", types.ApplicationStatusRunning)
	if _, err := ts.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("clicks")}); !isType[*types.ResourceInUseException](err) {
		t.Fatalf("starting it twice: %v, want ResourceInUseException", err)
	}

	if _, err := ts.client.CreateApplicationSnapshot(ctx, &kda.CreateApplicationSnapshotInput{ApplicationName: aws.String("clicks"), SnapshotName: aws.String("before-update")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, ts, "clicks", "before-update")

	upd, err := ts.client.UpdateApplication(ctx, &kda.UpdateApplicationInput{ApplicationName: aws.String("clicks"), CurrentApplicationVersionId: aws.Int64(1),
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{FlinkApplicationConfigurationUpdate: &types.FlinkApplicationConfigurationUpdate{
			ParallelismConfigurationUpdate: &types.ParallelismConfigurationUpdate{ConfigurationTypeUpdate: types.ConfigurationTypeCustom, ParallelismUpdate: aws.Int32(3)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(upd.ApplicationDetail.ApplicationVersionId) != 2 {
		t.Fatalf("the update made version %d, want 2", aws.ToInt64(upd.ApplicationDetail.ApplicationVersionId))
	}
	if _, err := ts.client.UpdateApplication(ctx, &kda.UpdateApplicationInput{ApplicationName: aws.String("clicks"), CurrentApplicationVersionId: aws.Int64(1)}); !isType[*types.ConcurrentModificationException](err) && !isType[*types.ResourceInUseException](err) {
		t.Fatalf("an update from a stale version: %v, want ConcurrentModificationException", err)
	}
	d = ts.waitStatus(t, "clicks", types.ApplicationStatusRunning)
	if p := d.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.ParallelismConfigurationDescription; aws.ToInt32(p.CurrentParallelism) != 3 {
		t.Errorf("running at parallelism %d after the update, want 3", aws.ToInt32(p.CurrentParallelism))
	}

	if _, err := ts.client.StopApplication(ctx, &kda.StopApplicationInput{ApplicationName: aws.String("clicks")}); err != nil {
		t.Fatal(err)
	}
	ts.waitStatus(t, "clicks", types.ApplicationStatusReady)
	if _, err := ts.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("clicks"),
		RunConfiguration: &types.RunConfiguration{ApplicationRestoreConfiguration: &types.ApplicationRestoreConfiguration{ApplicationRestoreType: types.ApplicationRestoreTypeRestoreFromLatestSnapshot}}}); err != nil {
		t.Fatal(err)
	}
	ts.waitStatus(t, "clicks", types.ApplicationStatusRunning)
	// The bounded job finishes by itself: the application is READY again.
	ts.waitStatus(t, "clicks", types.ApplicationStatusReady)
	checkExactlyOnce(t, out, records, keys)

	ops, err := ts.client.ListApplicationOperations(ctx, &kda.ListApplicationOperationsInput{ApplicationName: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range ops.ApplicationOperationInfoList {
		kinds = append(kinds, aws.ToString(o.Operation)+":"+string(o.OperationStatus))
	}
	want := "StartApplication:SUCCESSFUL StopApplication:SUCCESSFUL UpdateApplication:SUCCESSFUL StartApplication:SUCCESSFUL CreateApplication:SUCCESSFUL"
	if strings.Join(kinds, " ") != want {
		t.Errorf("operations %v, want %s", kinds, want)
	}
	snaps, err := ts.client.ListApplicationSnapshots(ctx, &kda.ListApplicationSnapshotsInput{ApplicationName: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps.SnapshotSummaries) < 3 { // before-update, the update's and the stop's
		t.Errorf("snapshots %d, want the requested one and those of the update and the stop", len(snaps.SnapshotSummaries))
	}
	desc, err := ts.client.DescribeApplication(ctx, &kda.DescribeApplicationInput{ApplicationName: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.DeleteApplication(ctx, &kda.DeleteApplicationInput{ApplicationName: aws.String("clicks"), CreateTimestamp: desc.ApplicationDetail.CreateTimestamp}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.DescribeApplication(ctx, &kda.DescribeApplicationInput{ApplicationName: aws.String("clicks")}); !isType[*types.ResourceNotFoundException](err) {
		t.Fatalf("describe after delete: %v, want ResourceNotFoundException", err)
	}
}

func waitSnapshot(t *testing.T, ts *testServer, app, snap string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := ts.client.DescribeApplicationSnapshot(context.Background(), &kda.DescribeApplicationSnapshotInput{ApplicationName: aws.String(app), SnapshotName: aws.String(snap)})
		if err != nil {
			t.Fatal(err)
		}
		switch out.SnapshotDetails.SnapshotStatus {
		case types.SnapshotStatusReady:
			return
		case types.SnapshotStatusFailed:
			t.Fatalf("snapshot %s failed:\n%s", snap, ts.appLog(app))
		}
		time.Sleep(50 * time.Millisecond) // polling the service's status, as a client does
	}
	t.Fatalf("snapshot %s not READY within a minute", snap)
}

func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// sleepPoll waits between two polls of the service's status, as a client does.
func sleepPoll() { time.Sleep(50 * time.Millisecond) }
