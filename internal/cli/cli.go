// Package cli holds the conventions shared by Runnel's command lines, the `runnel` binary's and
// those of programs built with app.Main, on github.com/spf13/cobra and its pflag:
//
//   - flags are POSIX/GNU style (--name value, --name=value); --help and --version print to
//     stdout and exit 0; nothing else prints the usage;
//   - an error is printed last, on one line of stderr: the command, what is wrong, and a hint in
//     parentheses, such as "runnel run: --checkpoint-interval 5: missing unit (e.g. 5s)" or
//     "runnel: unknown command "rnu" (did you mean "run"?)";
//   - the exit code is 0 on success, 1 when the command failed, 2 for a usage error (bad flags
//     or arguments), 130 when interrupted.
//
// Commands return a *UsageError (Usage, Usagef) for mistakes in how they were called, and any
// other error for failures. Setup applies the conventions to a command tree; Execute runs it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of Execute.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// UsageError is a mistake in how a command was called: a bad flag, value or argument. Execute
// prints it with its hint and exits with ExitUsage.
type UsageError struct {
	// Err says what is wrong.
	Err error
	// Hint says what to do about it; empty means "see '<command> --help'".
	Hint string
}

func (e *UsageError) Error() string {
	if e.Hint == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + " (" + e.Hint + ")"
}

func (e *UsageError) Unwrap() error { return e.Err }

// Usage returns err as a *UsageError with hint (empty: the default hint). A nil err gives nil;
// an err that already is a *UsageError keeps its hint unless hint is set.
func Usage(err error, hint string) error {
	if err == nil {
		return nil
	}
	var u *UsageError
	if errors.As(err, &u) {
		if hint == "" {
			return u
		}
		return &UsageError{Err: u.Err, Hint: hint}
	}
	return &UsageError{Err: err, Hint: hint}
}

// Usagef returns a *UsageError with the default hint and the message of fmt.Errorf.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Setup applies the conventions to root and the commands below it (those added later too):
// cobra prints neither errors nor usage (Execute prints the error), flag errors become
// *UsageErrors that name the flag and the fix (FlagError), and --version, when root.Version is
// set, prints "<name> version <version>".
func Setup(root *cobra.Command) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(FlagError)
	root.SetVersionTemplate("{{.Name}} version {{.Version}}\n")
}

// Execute runs root with args (none is nil, never os.Args), help and output to stdout and
// errors to stderr, and returns the exit code (ExitOK, ExitFailed, ExitUsage,
// ExitInterrupted). It prints the error last, on one line: see the package documentation.
// ctx is the context of the commands (cmd.Context()).
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if cmd, err := unknownCommand(root, args); err != nil {
		printError(stderr, cmd, err)
		return ExitUsage
	}
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	var u *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u):
		printError(stderr, cmd, u)
		return ExitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return ExitInterrupted
	}
	printError(stderr, cmd, err)
	return ExitFailed
}

// printError prints err on one line: the command's path, the error (a joined error's parts
// separated by "; ") and, for a usage error, its hint.
func printError(w io.Writer, cmd *cobra.Command, err error) {
	var u *UsageError
	if errors.As(err, &u) {
		hint := u.Hint
		if hint == "" {
			hint = fmt.Sprintf("see '%s --help'", cmd.CommandPath())
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", cmd.CommandPath(), oneLine(u.Err), hint)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", cmd.CommandPath(), oneLine(err))
}

// oneLine returns err's message on one line: the lines of a joined error (errors.Join, also
// wrapped by fmt.Errorf("...: %w", join)) separated by "; ".
func oneLine(err error) string {
	return strings.Join(strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' }), "; ")
}

// unknownCommand returns a *UsageError, and the command below which it was looked for, when
// args name a command that does not exist: the first argument that is not a flag, below a
// command that has subcommands and runs nothing itself. (Left to cobra, a root reports it with
// several lines of suggestions, and a group below the root prints its help and succeeds.)
func unknownCommand(root *cobra.Command, args []string) (*cobra.Command, error) {
	if len(args) > 0 && strings.HasPrefix(args[0], cobra.ShellCompRequestCmd) {
		return nil, nil // the shell asking for completions
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd(args...)
	cmd, rest, _ := root.Find(args)
	if cmd == nil || !cmd.HasSubCommands() || cmd.Runnable() {
		return nil, nil
	}
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") {
			// As cobra reads it: a flag it does not know as boolean, without "=", takes the
			// next argument as its value. (Group commands have only --help and --version.)
			name := strings.TrimLeft(a, "-")
			if f := cmd.Flags().Lookup(name); !strings.Contains(a, "=") && (f == nil || f.NoOptDefVal == "") &&
				(strings.HasPrefix(a, "--") || len(a) == 2) {
				i++
			}
			continue
		}
		var names []string
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() || c.Name() == "help" {
				names = append(names, c.Name())
				names = append(names, c.Aliases...)
			}
		}
		return cmd, unknownCommandError(cmd, a, names)
	}
	return nil, nil
}

func unknownCommandError(cmd *cobra.Command, name string, names []string) error {
	err := &UsageError{Err: fmt.Errorf("unknown command %q", name)}
	if s := Suggest(name, names); len(s) > 0 {
		err.Hint = "did you mean " + quoteList(s, "%q") + "?"
	} else {
		err.Hint = fmt.Sprintf("see '%s --help' for the commands", cmd.CommandPath())
	}
	return err
}

// Unknown returns a *UsageError saying that name is not one of the known names of kind (such
// as "example"), with the ones it might have meant, or else the list of all.
func Unknown(kind, name string, known []string) error {
	if name == "" {
		return &UsageError{Err: fmt.Errorf("name the %s", kind), Hint: "one of " + quoteList(known, "%s")}
	}
	err := &UsageError{Err: fmt.Errorf("unknown %s %q", kind, name)}
	if s := Suggest(name, known); len(s) > 0 {
		err.Hint = "did you mean " + quoteList(s, "%q") + "?"
	} else {
		err.Hint = "one of " + quoteList(known, "%s")
	}
	return err
}

// quoteList formats items with verb and joins them: "a", "a or b", "a, b or c".
func quoteList(items []string, verb string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf(verb, s)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// Args returns a validator of a command's positional arguments: at least min and at most max
// (max < 0: any number) arguments, named by what ("DIR", "EXAMPLE") in the error.
func Args(min, max int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return Usagef("missing %s", what)
		case max >= 0 && len(args) > max:
			return Usagef("unexpected argument %q", args[max])
		}
		return nil
	}
}

// Invalid returns err, an error of a Validate method, as a *UsageError with the default hint:
// the problems it joins (errors.Join), without the prefix of an error wrapping them ("app:
// invalid options: "), or err itself when it joins none. A nil err gives nil.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(interface{ Unwrap() []error }); ok {
			return &UsageError{Err: e}
		}
	}
	return &UsageError{Err: err}
}
