//go:build unix

package main

import "syscall"

// raiseFileLimit lifts the process's soft limit on open files to its hard
// limit: every HTTP connection, NATS client and JetStream file takes one,
// and the usual soft limit of 1024 is soon reached under load. It returns
// the limit in force.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}
