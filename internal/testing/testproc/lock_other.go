//go:build !unix

package testproc

// Lock does not lock where flock(2) is missing: concurrent first installs then race, which
// go install and npm survive at worst with one failed attempt.
func Lock(string) (unlock func(), err error) { return func() {}, nil }
