package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service"
)

// TestAutoscaling runs a backpressured application with autoscaling on: the server doubles its
// parallelism with an Autoscaling operation, the application runs on at the new parallelism,
// and its exactly-once output loses and repeats nothing. Its metrics are on GET /metrics.
func TestAutoscaling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs an application")
	}
	ts := startServerWith(t, service.Config{MetricsInterval: 200 * time.Millisecond,
		Autoscale: service.Autoscale{Window: 2 * time.Second}})
	ctx := context.Background()
	out := t.TempDir()
	const records, keys = 15000, 12
	in := createInput("busy", testappZip(t), map[string]string{"output": out, "records": fmt.Sprint(records), "rate": "0",
		"keys": fmt.Sprint(keys), "slow": "300"}, 1)
	in.ApplicationConfiguration.FlinkApplicationConfiguration.ParallelismConfiguration.AutoScalingEnabled = aws.Bool(true)
	if _, err := ts.client.CreateApplication(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("busy")}); err != nil {
		t.Fatal(err)
	}
	ts.waitStatus(t, "busy", types.ApplicationStatusRunning)
	// The metrics of the running application.
	var body string
	for range 200 {
		resp, err := http.Get("http://" + ts.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); strings.Contains(body, "backPressuredTimeMsPerSecond{") {
			break
		}
		sleepPoll()
	}
	for _, m := range []string{`uptime{application="busy"}`, `numRecordsInPerSecond{application="busy"`, `busyTimeMsPerSecond{`, `KPUs{application="busy"} 1`, `cpuUtilization{`, `lastCheckpointDuration{`} {
		if !strings.Contains(body, m) {
			t.Errorf("GET /metrics lacks %s:\n%s", m, body)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ops, err := ts.client.ListApplicationOperations(ctx, &kda.ListApplicationOperationsInput{ApplicationName: aws.String("busy"), Operation: aws.String("Autoscaling")})
		if err != nil {
			t.Fatal(err)
		}
		if len(ops.ApplicationOperationInfoList) > 0 && ops.ApplicationOperationInfoList[len(ops.ApplicationOperationInfoList)-1].OperationStatus == types.OperationStatusSuccessful {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful Autoscaling operation; the application's log:\n%s", ts.appLog("busy"))
		}
		sleepPoll()
	}
	d, err := ts.client.DescribeApplication(ctx, &kda.DescribeApplicationInput{ApplicationName: aws.String("busy")})
	if err != nil {
		t.Fatal(err)
	}
	if p := aws.ToInt32(d.ApplicationDetail.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.ParallelismConfigurationDescription.CurrentParallelism); p < 2 {
		t.Errorf("parallelism %d after autoscaling, want 2 or more", p)
	}
	if !strings.Contains(ts.appLog("busy"), "autoscaling from parallelism 1 to 2: backpressured") {
		t.Errorf("the log does not say why it scaled:\n%s", ts.appLog("busy"))
	}
	ts.waitStatus(t, "busy", types.ApplicationStatusReady)
	checkExactlyOnce(t, out, records, keys)
}
