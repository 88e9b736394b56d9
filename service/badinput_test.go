package service_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service"
)

// post sends a raw API request and returns the status, the __type and the message.
func post(t *testing.T, addr, target, contentType, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s: no x-amzn-RequestId header", target)
	}
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Type, e.Message
}

// TestBadRequests sends what a broken client or a mistaken user sends: every one gets the
// service's exception with a message saying what is wrong, and the server keeps serving.
func TestBadRequests(t *testing.T) {
	ts := startServer(t, t.TempDir())
	const json11 = "application/x-amz-json-1.1"
	target := func(op string) string { return service.TargetPrefix + "." + op }
	for _, tc := range []struct {
		name, target, body string
		status             int
		typ, msg           string
	}{
		{"malformed JSON", target("DescribeApplication"), `{"ApplicationName": `, 400, "SerializationException", "malformed JSON"},
		{"not an object", target("DescribeApplication"), `[1, 2]`, 400, "SerializationException", "not a JSON object"},
		{"unknown operation", target("LaunchRocket"), `{}`, 400, "UnknownOperationException", `"LaunchRocket"`},
		{"no target", "", `{}`, 400, "UnknownOperationException", "X-Amz-Target"},
		{"wrong type", target("DescribeApplication"), `{"ApplicationName": 7}`, 400, "SerializationException", "ApplicationName: expected a string"},
		{"wrong nested type", target("ListApplications"), `{"Limit": "ten"}`, 400, "SerializationException", "Limit: expected an integer"},
		{"required member", target("DescribeApplication"), `{}`, 400, "InvalidArgumentException", "ApplicationName: the member is required"},
		{"pattern", target("DescribeApplication"), `{"ApplicationName": "no spaces allowed"}`, 400, "InvalidArgumentException", "ApplicationName"},
		{"too long", target("DescribeApplication"), `{"ApplicationName": "` + strings.Repeat("a", 129) + `"}`, 400, "InvalidArgumentException", "above the maximum of 128"},
		{"limit out of range", target("ListApplications"), `{"Limit": 51}`, 400, "InvalidArgumentException", "Limit: 51 is above the maximum of 50"},
		{"enum", target("StopApplication"), `{"ApplicationName": "a", "Force": "yes"}`, 400, "SerializationException", "Force: expected a boolean"},
		{"unknown application", target("DescribeApplication"), `{"ApplicationName": "nope"}`, 400, "ResourceNotFoundException", "nope does not exist"},
		{"SQL-v1 operation", target("AddApplicationInput"), `{}`, 400, "UnsupportedOperationException", "SQL-v1"},
		{"wrong content type", target("ListApplications"), `{}`, 400, "SerializationException", "Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := json11
			if tc.name == "wrong content type" {
				ct = "text/plain"
			}
			status, typ, msg := post(t, ts.addr, tc.target, ct, tc.body)
			if status != tc.status || typ != tc.typ || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %d %s %q, want %d %s containing %q", status, typ, msg, tc.status, tc.typ, tc.msg)
			}
		})
	}

	ctx := context.Background()
	props := map[string]string{"output": t.TempDir()}
	bad := func(name string, code []byte) error {
		_, err := ts.client.CreateApplication(ctx, createInput(name, code, props, 1))
		return err
	}
	t.Run("not a ZIP", func(t *testing.T) {
		if err := bad("notzip", []byte("hello")); !isType[*types.CodeValidationException](err) || !strings.Contains(err.Error(), "not a ZIP") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a ZIP without bootstrap", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("main")
		w.Write([]byte("binary"))
		zw.Close()
		if err := bad("nobootstrap", buf.Bytes()); !isType[*types.CodeValidationException](err) || !strings.Contains(err.Error(), "no file named bootstrap") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an oversized ZIP", func(t *testing.T) {
		if err := bad("huge", make([]byte, 50<<20+1)); !isType[*types.InvalidArgumentException](err) || !strings.Contains(err.Error(), "ZipFileContent") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a SQL-v1 runtime", func(t *testing.T) {
		in := createInput("sql1", testappZip(t), props, 1)
		in.RuntimeEnvironment = types.RuntimeEnvironmentSql10
		if _, err := ts.client.CreateApplication(ctx, in); !isType[*types.UnsupportedOperationException](err) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("PLAINTEXT code", func(t *testing.T) {
		in := createInput("sqltext", nil, props, 1)
		in.ApplicationConfiguration.ApplicationCodeConfiguration = &types.ApplicationCodeConfiguration{
			CodeContentType: types.CodeContentTypePlaintext, CodeContent: &types.CodeContent{TextContent: aws.String("SELECT 1")}}
		if _, err := ts.client.CreateApplication(ctx, in); !isType[*types.UnsupportedOperationException](err) || !strings.Contains(err.Error(), "Flink SQL") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a bootstrap that exits at once", func(t *testing.T) {
		in := createInput("failing", testappZip(t), map[string]string{"output": t.TempDir(), "fail": "start"}, 1)
		if _, err := ts.client.CreateApplication(ctx, in); err != nil {
			t.Fatal(err)
		}
		start, err := ts.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("failing")})
		if err != nil {
			t.Fatal(err)
		}
		ts.waitOp(t, "failing", aws.ToString(start.OperationId), types.OperationStatusFailed)
		d := ts.waitStatus(t, "failing", types.ApplicationStatusReady)
		_ = d
		op, err := ts.client.DescribeApplicationOperation(ctx, &kda.DescribeApplicationOperationInput{ApplicationName: aws.String("failing"), OperationId: start.OperationId})
		if err != nil {
			t.Fatal(err)
		}
		msg := aws.ToString(op.ApplicationOperationInfoDetails.OperationFailureDetails.ErrorInfo.ErrorString)
		if !strings.Contains(msg, "exited before it ran its job") {
			t.Errorf("the failed start says %q", msg)
		}
		if log := ts.appLog("failing"); !strings.Contains(log, "told to fail at start") {
			t.Errorf("the application's log does not say why:\n%s", log)
		}
	})
	// Still serving.
	if _, err := ts.client.ListApplications(ctx, &kda.ListApplicationsInput{}); err != nil {
		t.Fatalf("the server after the bad requests: %v", err)
	}
}

func (ts *testServer) waitOp(t *testing.T, app, id string, want types.OperationStatus) {
	t.Helper()
	for range 6000 {
		out, err := ts.client.DescribeApplicationOperation(context.Background(), &kda.DescribeApplicationOperationInput{ApplicationName: aws.String(app), OperationId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if out.ApplicationOperationInfoDetails.OperationStatus == want {
			return
		}
		if out.ApplicationOperationInfoDetails.OperationStatus != types.OperationStatusInProgress {
			t.Fatalf("operation %s is %s, want %s", id, out.ApplicationOperationInfoDetails.OperationStatus, want)
		}
		sleepPoll()
	}
	t.Fatalf("operation %s not %s within 5 minutes", id, want)
}
