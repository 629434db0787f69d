package main

import "syscall"

// procAttr makes children die with the wrapper even when it is killed.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
