//go:build !linux

package supervisor

import "syscall"

// procAttr puts the process in a group of its own; outside Linux it does not die with the
// server (a restarted server finds it by its lease).
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
