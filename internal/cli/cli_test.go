package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// tree is a small command tree: a root with a group (tool db) and a leaf (tool serve).
func tree(ran *[]string) *cobra.Command {
	root := &cobra.Command{Use: "tool", Version: "v1.2.3"}
	db := &cobra.Command{Use: "db", Short: "databases"}
	var interval time.Duration
	var port int
	var verbose bool
	serve := &cobra.Command{Use: "serve", Short: "serve", Args: Args(0, 1, "DIR"),
		RunE: func(_ *cobra.Command, args []string) error {
			*ran = append(*ran, fmt.Sprint("serve ", args, " ", interval, " ", port, " ", verbose))
			if port == 13 {
				return errors.New("port 13 is unlucky")
			}
			if port == 14 {
				return Usagef("--port 14 is for root")
			}
			return nil
		}}
	serve.Flags().DurationVar(&interval, "poll-interval", time.Second, "")
	serve.Flags().IntVar(&port, "port", 80, "")
	serve.Flags().BoolVar(&verbose, "verbose", false, "")
	migrate := &cobra.Command{Use: "migrate", Short: "migrate", RunE: func(*cobra.Command, []string) error {
		*ran = append(*ran, "migrate")
		return nil
	}}
	db.AddCommand(migrate)
	root.AddCommand(db, serve)
	Setup(root)
	return root
}

func TestExecute(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a prefix of stdout
		stderr string // all of stderr
		ran    string // what ran
	}{
		{args: []string{"serve", "/d", "--port", "8", "--poll-interval=2s", "--verbose"}, ran: "serve [/d] 2s 8 true"},
		{args: []string{"--version"}, stdout: "tool version v1.2.3\n"},
		{args: []string{"serve", "--help"}, stdout: "serve\n\nUsage:\n  tool serve"},
		{args: []string{"db", "migrate"}, ran: "migrate"},
		{args: []string{"db"}, stdout: "databases\n\nUsage:"},
		{args: []string{"serve", "--port", "13"}, code: 1, stderr: "tool serve: port 13 is unlucky\n", ran: "serve [] 1s 13 false"},
		{args: []string{"serve", "--port", "14"}, code: 2, stderr: "tool serve: --port 14 is for root (see 'tool serve --help')\n", ran: "serve [] 1s 14 false"},
		{args: []string{"serve", "--poll-interval", "3"}, code: 2, stderr: "tool serve: --poll-interval 3: missing unit (e.g. 3s)\n"},
		{args: []string{"serve", "--poll-interval", ""}, code: 2, stderr: "tool serve: --poll-interval \"\": not a duration (e.g. 10s, 500ms or 1m30s)\n"},
		{args: []string{"serve", "--port", "eighty"}, code: 2, stderr: "tool serve: --port eighty: not a whole number (e.g. --port 4)\n"},
		{args: []string{"serve", "--verbose=maybe"}, code: 2, stderr: "tool serve: --verbose=maybe: want true or false (--verbose alone means true)\n"},
		{args: []string{"serve", "--port"}, code: 2, stderr: "tool serve: --port needs a value (e.g. --port 4)\n"},
		{args: []string{"serve", "--prot", "8"}, code: 2, stderr: "tool serve: unknown flag --prot (did you mean --port?)\n"},
		{args: []string{"serve", "--interval", "8s"}, code: 2, stderr: "tool serve: unknown flag --interval (did you mean --poll-interval?)\n"},
		{args: []string{"serve", "-port", "8"}, code: 2, stderr: "tool serve: -port: a long flag takes two dashes (--port)\n"},
		{args: []string{"serve", "-port=8"}, code: 2, stderr: "tool serve: -port=8: a long flag takes two dashes (--port=8)\n"},
		{args: []string{"serve", "-x"}, code: 2, stderr: "tool serve: unknown shorthand flag -x (see 'tool serve --help')\n"},
		{args: []string{"serve", "a", "b"}, code: 2, stderr: "tool serve: unexpected argument \"b\" (see 'tool serve --help')\n"},
		{args: []string{"sevre"}, code: 2, stderr: "tool: unknown command \"sevre\" (did you mean \"serve\"?)\n"},
		{args: []string{"sevre", "--port", "8"}, code: 2, stderr: "tool: unknown command \"sevre\" (did you mean \"serve\"?)\n"},
		{args: []string{"--port", "8", "sevre"}, code: 2, stderr: "tool: unknown command \"sevre\" (did you mean \"serve\"?)\n"},
		{args: []string{"--port", "8"}, code: 2, stderr: "tool: unknown flag --port (see 'tool --help')\n"},
		{args: []string{"db", "migrat"}, code: 2, stderr: "tool db: unknown command \"migrat\" (did you mean \"migrate\"?)\n"},
		{args: []string{"db", "drop"}, code: 2, stderr: "tool db: unknown command \"drop\" (see 'tool db --help' for the commands)\n"},
	} {
		var ran []string
		var out, errb bytes.Buffer
		code := Execute(context.Background(), tree(&ran), tc.args, &out, &errb)
		if code != tc.code || !bytes.HasPrefix(out.Bytes(), []byte(tc.stdout)) || errb.String() != tc.stderr || fmt.Sprint(ran) != fmt.Sprint(slices.DeleteFunc([]string{tc.ran}, func(s string) bool { return s == "" })) {
			t.Errorf("tool %q: exit %d, stdout %q, stderr %q, ran %q\nwant exit %d, stdout %q..., stderr %q, ran %q",
				tc.args, code, out.String(), errb.String(), ran, tc.code, tc.stdout, tc.stderr, tc.ran)
		}
	}
}

// TestExecuteInterrupted: a command that fails because the context was cancelled exits 130
// and prints nothing.
func TestExecuteInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := &cobra.Command{Use: "wait", RunE: func(cmd *cobra.Command, _ []string) error {
		cancel()
		<-cmd.Context().Done()
		return fmt.Errorf("waiting: %w", cmd.Context().Err())
	}}
	Setup(cmd)
	var out, errb bytes.Buffer
	if code := Execute(ctx, cmd, nil, &out, &errb); code != ExitInterrupted || errb.Len() != 0 {
		t.Errorf("exit %d, stderr %q; want %d and nothing", code, errb.String(), ExitInterrupted)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"checkpoint-dir", "checkpoint-interval", "progress-interval", "parallelism", "max-parallelism", "run", "restore"}
	for _, tc := range []struct {
		typed string
		want  []string
	}{
		{"checkpoint_dir", []string{"checkpoint-dir"}},
		{"CHECKPOINT-DIR", nil}, // the same name, in another case, is not a suggestion
		{"paralelism", []string{"parallelism"}},
		{"interval", []string{"checkpoint-interval", "progress-interval"}},
		{"rn", []string{"run"}},
		{"re", []string{"run", "restore"}}, // two edits, then a prefix
		{"xyz", nil},
		{"", nil},
	} {
		if got := Suggest(tc.typed, names); !slices.Equal(got, tc.want) {
			t.Errorf("Suggest(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
}

func TestUnknown(t *testing.T) {
	known := []string{"clickstream", "iot", "retail"}
	for _, tc := range []struct{ name, want string }{
		{"", "name the example (one of clickstream, iot or retail)"},
		{"iott", `unknown example "iott" (did you mean "iot"?)`},
		{"fraud", `unknown example "fraud" (one of clickstream, iot or retail)`},
	} {
		if got := Unknown("example", tc.name, known).Error(); got != tc.want {
			t.Errorf("Unknown(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	joined := fmt.Errorf("app: invalid options: %w", errors.Join(errors.New("--a is bad"), errors.New("--b is worse")))
	var u *UsageError
	if err := Invalid(joined); !errors.As(err, &u) || oneLine(u.Err) != "--a is bad; --b is worse" {
		t.Errorf("Invalid(joined) = %v", err)
	}
	if err := Invalid(errors.New("plain")); err.Error() != "plain" {
		t.Errorf("Invalid(plain) = %v", err)
	}
	if Invalid(nil) != nil {
		t.Error("Invalid(nil) is not nil")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
