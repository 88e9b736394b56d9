package supervisor

import "syscall"

// procAttr makes the process die with the server: the kernel sends it SIGKILL when the thread
// that started it ends, which is when the server ends.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
