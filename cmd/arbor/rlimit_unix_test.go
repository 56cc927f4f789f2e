//go:build unix

package main

import (
	"syscall"
	"testing"
)

// arbor serve lifts its soft limit on open files to the hard limit.
func TestRaiseFileLimit(t *testing.T) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	orig := l
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	if l.Max > 256 {
		l.Cur = 256 // as low as a careful default would leave it
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := raiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now.Cur != l.Max || got != l.Max {
		t.Fatalf("soft limit %d (reported %d), want the hard limit %d", now.Cur, got, l.Max)
	}
}
