package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/internal/cli"
	"github.com/runnel-io/runnel/service"
)

// serverCommand is `runnel server`, the managed service.
func serverCommand() *cobra.Command {
	var (
		cfg         service.Config
		credentials string
		logLevel    string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the managed service: the Managed Flink API on 127.0.0.1:8080",
		Long: `Run the managed service: the Amazon Managed Service for Apache Flink API
(kinesisanalyticsv2), so 'runnel apps', the AWS CLI, the AWS SDKs and Terraform create,
start, snapshot, update, scale and stop applications on this machine.

Each application is a program built with app.Main, uploaded as a ZIP holding it as
'bootstrap', and runs as a supervised child process. The metadata, code, logs, checkpoints
and snapshots are kept under --data-dir (checkpoints and snapshots under --storage when
given). Applications that were running when the server stopped start again from their
latest checkpoint when it starts.

Requests are verified with AWS Signature Version 4 against --credentials (or the keys in
RUNNEL_CREDENTIALS, in the same format). Without credentials the server accepts any
signature, and refuses to listen on other than a loopback address.`,
		Example: `  runnel server
  runnel server --listen 127.0.0.1:9000 --data-dir /var/lib/runnel
  runnel server --storage s3://bucket/runnel --s3-endpoint http://127.0.0.1:7070`,
		Args: cli.Args(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usagef("--log-level %q: want debug, info, warn or error", logLevel)
			}
			creds, err := serverCredentials(credentials)
			if err != nil {
				return cli.Usage(err, "one 'ACCESS_KEY_ID SECRET' per line")
			}
			cfg.Credentials = creds
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			srv, err := service.New(cfg)
			if err != nil {
				return err
			}
			return srv.Serve(cmd.Context(), func(addr string) {
				fmt.Fprintf(cmd.OutOrStdout(), "runnel server: the Managed Flink API on http://%s (runnel apps --endpoint http://%s, or aws kinesisanalyticsv2 --endpoint-url http://%s)\n", addr, addr, addr)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address of the API (host:port)")
	f.StringVar(&cfg.DataDir, "data-dir", "runnel-data", "directory of the metadata store, application code and logs")
	f.StringVar(&cfg.Storage, "storage", "", "where checkpoints and snapshots go: a directory or s3://bucket/prefix (default: <data-dir>/storage)")
	f.StringVar(&cfg.S3Endpoint, "s3-endpoint", "", "endpoint of an S3-compatible store, for --storage and code in S3 (default: AWS's)")
	f.StringVar(&cfg.Region, "region", "us-east-1", "region in the applications' ARNs")
	f.StringVar(&cfg.AccountID, "account-id", "123456789012", "account ID in the applications' ARNs")
	f.StringVar(&credentials, "credentials", "", "file of the access keys requests must be signed with, one 'ACCESS_KEY_ID SECRET' per line")
	f.StringVar(&logLevel, "log-level", "info", "the server's log level: debug, info, warn or error")
	return cmd
}

// serverCredentials reads --credentials, or else RUNNEL_CREDENTIALS (keys inline, in the
// file's format, lines or ";"-separated); none gives nil.
func serverCredentials(path string) (map[string]string, error) {
	if path != "" {
		return service.ReadCredentials(path)
	}
	env := os.Getenv("RUNNEL_CREDENTIALS")
	if env == "" {
		return nil, nil
	}
	return service.ParseCredentials("RUNNEL_CREDENTIALS", bufio.NewScanner(strings.NewReader(strings.ReplaceAll(env, ";", "\n"))))
}
