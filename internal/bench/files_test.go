package bench

import (
	"strings"
	"testing"
)

// TestFiles runs the files benchmark on a tiny input: both sides must write the same lines (the
// benchmark fails otherwise) and the table must have a row per parallelism.
func TestFiles(t *testing.T) {
	stdout, stderr, err := run(t, Files{Events: 3000, Parallelisms: []int{1, 2}, Rounds: 1, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{"job/loop", "\n1 ", "\n2 "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not contain %q:\n%s", want, stdout)
		}
	}
}

func TestFilesValidate(t *testing.T) {
	for _, tc := range []struct {
		f    Files
		want string
	}{
		{Files{Events: 0, Parallelisms: []int{1}, Rounds: 1}, "--events 0: must be positive"},
		{Files{Events: 1, Parallelisms: []int{1, 0}, Rounds: 1}, "--parallelism 0: must be positive"},
		{Files{Events: 1, Rounds: 1}, "--parallelism: name at least one"},
		{Files{Events: 1, Parallelisms: []int{1}, Rounds: 0}, "--rounds 0: must be positive"},
	} {
		if err := tc.f.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.f, err, tc.want)
		}
	}
	if err := DefaultFiles().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
