package service_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"

	"github.com/runnel-io/runnel/service"
)

const serverChildEnv = "RUNNEL_SERVER_CHILD"

// TestServerChild is the server of TestServerSurvivesKill, in a child process.
func TestServerChild(t *testing.T) {
	dir := os.Getenv(serverChildEnv)
	if dir == "" {
		t.Skip("run by TestServerSurvivesKill")
	}
	srv, err := service.New(service.Config{Listen: "127.0.0.1:0", DataDir: dir, StartTimeout: 2 * time.Minute})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	_ = srv.Serve(context.Background(), func(addr string) { fmt.Println("listening", addr) })
}

// serverProc is a server in a child process.
type serverProc struct {
	cmd    *exec.Cmd
	client *kda.Client
}

func startServerProc(t *testing.T, dir string) *serverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), serverChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the server child did not listen")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	client := kda.New(kda.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	return &serverProc{cmd: cmd, client: client}
}

func (p *serverProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *serverProc) status(t *testing.T, name string) types.ApplicationStatus {
	t.Helper()
	out, err := p.client.DescribeApplication(context.Background(), &kda.DescribeApplicationInput{ApplicationName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ApplicationDetail.ApplicationStatus
}

func (p *serverProc) wait(t *testing.T, name string, want types.ApplicationStatus) {
	t.Helper()
	for range 4000 {
		if p.status(t, name) == want {
			return
		}
		sleepPoll()
	}
	t.Fatalf("application %s not %s within minutes", name, want)
}

// TestServerSurvivesKill kills the server with SIGKILL at random moments, while its
// application runs, while it is being updated, snapshotted or stopped, and starts it again:
// each time the application is in a state the service can show, and running again from its
// latest snapshot if it ran; its exactly-once output has nothing lost or duplicated at the
// end.
func TestServerSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and applications")
	}
	dir, out := t.TempDir(), t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	ctx := context.Background()
	const records, keys = 60000, 12
	srv := startServerProc(t, dir)
	props := map[string]string{"output": out, "records": fmt.Sprint(records), "rate": "4000", "keys": fmt.Sprint(keys)}
	if _, err := srv.client.CreateApplication(ctx, createInput("counts", testappZip(t), props, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("counts")}); err != nil {
		t.Fatal(err)
	}
	srv.wait(t, "counts", types.ApplicationStatusRunning)
	actions := map[string]int{}
	for kill := range 8 {
		// Something in flight when the server dies, or nothing.
		switch kill % 4 { // each at least twice, at random moments
		case 0:
			actions["while running"]++
		case 1:
			actions["during an update"]++
			d, err := srv.client.DescribeApplication(ctx, &kda.DescribeApplicationInput{ApplicationName: aws.String("counts")})
			if err != nil {
				t.Fatal(err)
			}
			_, err = srv.client.UpdateApplication(ctx, &kda.UpdateApplicationInput{ApplicationName: aws.String("counts"),
				CurrentApplicationVersionId: d.ApplicationDetail.ApplicationVersionId,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{FlinkApplicationConfigurationUpdate: &types.FlinkApplicationConfigurationUpdate{
					ParallelismConfigurationUpdate: &types.ParallelismConfigurationUpdate{ConfigurationTypeUpdate: types.ConfigurationTypeCustom, ParallelismUpdate: aws.Int32(int32(1 + kill%3))}}}})
			if err != nil {
				t.Fatal(err)
			}
		case 2:
			actions["during a snapshot"]++
			if _, err := srv.client.CreateApplicationSnapshot(ctx, &kda.CreateApplicationSnapshotInput{ApplicationName: aws.String("counts"), SnapshotName: aws.String(fmt.Sprintf("s%d", kill))}); err != nil {
				t.Fatal(err)
			}
		case 3:
			actions["during a stop"]++
			if _, err := srv.client.StopApplication(ctx, &kda.StopApplicationInput{ApplicationName: aws.String("counts")}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Duration(rng.IntN(800)) * time.Millisecond) // a random moment, not a synchronization
		srv.kill()
		srv = startServerProc(t, dir)
		st := srv.status(t, "counts")
		switch st {
		case types.ApplicationStatusRunning, types.ApplicationStatusReady, types.ApplicationStatusStarting:
		default:
			t.Fatalf("after kill %d the application is %s", kill, st)
		}
		ops, err := srv.client.ListApplicationOperations(ctx, &kda.ListApplicationOperationsInput{ApplicationName: aws.String("counts")})
		if err != nil {
			t.Fatal(err)
		}
		// At most one operation is in progress: the start that brings the application back.
		inProgress := 0
		for _, o := range ops.ApplicationOperationInfoList {
			if o.OperationStatus == types.OperationStatusInProgress {
				inProgress++
				if aws.ToString(o.Operation) != "StartApplication" || inProgress > 1 {
					t.Fatalf("after kill %d operation %s (%s) is in progress", kill, aws.ToString(o.OperationId), aws.ToString(o.Operation))
				}
			}
		}
		if st == types.ApplicationStatusReady {
			if _, err := srv.client.StartApplication(ctx, &kda.StartApplicationInput{ApplicationName: aws.String("counts")}); err != nil {
				t.Fatal(err)
			}
		}
		srv.wait(t, "counts", types.ApplicationStatusRunning)
	}
	// Let the bounded job finish.
	srv.wait(t, "counts", types.ApplicationStatusReady)
	t.Logf("8 kills: %v", actions)
	checkExactlyOnce(t, out, records, keys)
}
