//go:build !unix

package kinesistest

// lockFile does not lock where flock(2) is missing: concurrent first installs then race, which
// npm survives at worst with a failed install of one of them.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
