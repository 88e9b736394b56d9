package connectortest

import "testing"

func TestDiff(t *testing.T) {
	for _, c := range []struct {
		got, want []string
		same      bool
	}{
		{nil, nil, true},
		{[]string{"a", "b", "a"}, []string{"a", "a", "b"}, true},
		{[]string{"a", "b"}, []string{"a", "a", "b"}, false},
		{[]string{"a", "a", "b"}, []string{"a", "b"}, false},
		{[]string{"a", "c"}, []string{"a", "b"}, false},
	} {
		if got := diff(c.got, c.want); (got == "") != c.same {
			t.Errorf("diff(%q, %q) = %q, want same=%v", c.got, c.want, got, c.same)
		}
	}
}
