package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// FlagError turns an error of parsing cmd's flags into a *UsageError that names the flag, the
// value and the fix:
//
//	--checkpoint-interval 5: missing unit (e.g. 5s)
//	--parallelism two: not a whole number (e.g. --parallelism 4)
//	unknown flag --checkpoint-intervall (did you mean --checkpoint-interval?)
//	-checkpoint-dir: a long flag takes two dashes (--checkpoint-dir)
//
// Setup installs it as the flag error function of a command tree.
func FlagError(cmd *cobra.Command, err error) error {
	var (
		notExist *pflag.NotExistError
		invalid  *pflag.InvalidValueError
		required *pflag.ValueRequiredError
	)
	switch {
	case errors.As(err, &notExist):
		return unknownFlag(cmd, notExist)
	case errors.As(err, &invalid):
		return invalidValue(invalid.GetFlag(), invalid.GetValue(), invalid.Unwrap())
	case errors.As(err, &required):
		f := required.GetFlag()
		return &UsageError{Err: fmt.Errorf("--%s needs a value", f.Name), Hint: exampleOf(f)}
	}
	return Usage(err, "")
}

// unknownFlag explains a flag cmd does not have.
func unknownFlag(cmd *cobra.Command, e *pflag.NotExistError) error {
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	if group := e.GetSpecifiedShortnames(); group != "" {
		// -checkpoint-dir: what Go's flag package accepted reads as shorthands here.
		long, _, _ := strings.Cut(group, "=")
		if slices.Contains(names, long) {
			return &UsageError{Err: fmt.Errorf("-%s: a long flag takes two dashes", group), Hint: "--" + group}
		}
		if len(long) > 1 {
			err := &UsageError{Err: fmt.Errorf("unknown flag -%s", group)}
			if s := Suggest(long, names); len(s) > 0 {
				err.Hint = "did you mean " + flagList(s) + "?"
			}
			return err
		}
		return &UsageError{Err: fmt.Errorf("unknown shorthand flag -%s", e.GetSpecifiedName())}
	}
	name := e.GetSpecifiedName()
	err := &UsageError{Err: fmt.Errorf("unknown flag --%s", name)}
	if s := Suggest(name, names); len(s) > 0 {
		err.Hint = "did you mean " + flagList(s) + "?"
	}
	return err
}

func flagList(names []string) string {
	return quoteList(names, "--%s")
}

// invalidValue explains why value is not a value of f; cause is the parser's error.
func invalidValue(f *pflag.Flag, value string, cause error) error {
	shown := value
	if value == "" || strings.ContainsAny(value, " \t\"'") {
		shown = strconv.Quote(value)
	}
	what := func(msg string) error { return fmt.Errorf("--%s %s: %s", f.Name, shown, msg) }
	switch f.Value.Type() {
	case "duration":
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			return &UsageError{Err: what("missing unit"), Hint: "e.g. " + value + "s"}
		}
		return &UsageError{Err: what("not a duration"), Hint: "e.g. 10s, 500ms or 1m30s"}
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return &UsageError{Err: what("not a whole number"), Hint: exampleOf(f)}
	case "float32", "float64":
		return &UsageError{Err: what("not a number"), Hint: exampleOf(f)}
	case "bool":
		return &UsageError{Err: fmt.Errorf("--%s=%s: want true or false", f.Name, value), Hint: fmt.Sprintf("--%s alone means true", f.Name)}
	case "intSlice", "uintSlice", "int32Slice", "int64Slice":
		return &UsageError{Err: what("want whole numbers separated by commas"), Hint: exampleOf(f)}
	}
	return &UsageError{Err: what(cause.Error())}
}

// exampleOf returns a hint showing a value of f's type: "e.g. --parallelism 4".
func exampleOf(f *pflag.Flag) string {
	ex := map[string]string{"duration": "10s", "int": "4", "int64": "1000", "uint": "4", "float64": "2.5",
		"float32": "2.5", "intSlice": "1,2,4", "string": "VALUE", "stringSlice": "a,b"}[f.Value.Type()]
	if ex == "" {
		return fmt.Sprintf("see '--help' for --%s", f.Name)
	}
	return fmt.Sprintf("e.g. --%s %s", f.Name, ex)
}

// Suggest returns the candidates typed may have been meant as, best first, at most three:
// those within two edits of it (case ignored; "did you mean"), those it is a prefix of, and,
// for typed of four characters or more, those containing it.
func Suggest(typed string, candidates []string) []string {
	t := strings.ToLower(typed)
	type scored struct {
		s string
		d int
	}
	var found []scored
	for _, c := range candidates {
		l := strings.ToLower(c)
		switch d := distance(t, l); {
		case l == t:
			continue
		case d <= 2:
			found = append(found, scored{c, d})
		case len(t) >= 2 && strings.HasPrefix(l, t):
			found = append(found, scored{c, 3})
		case len(t) >= 4 && strings.Contains(l, t):
			found = append(found, scored{c, 4})
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return a.d - b.d })
	var out []string
	for _, f := range found {
		if !slices.Contains(out, f.s) && len(out) < 3 {
			out = append(out, f.s)
		}
	}
	return out
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
