package main

import (
	"context"
	"fmt"
)

// Command is one of arbor's subcommands: arbor <name> [args]. Run returns
// nil, flag.ErrHelp after -h, an *exitError when it has said on stderr
// what went wrong, or another error for main to print.
type Command interface {
	Run(ctx context.Context, args []string) error
}

// exitError is a failure a command has already reported on stderr: arbor
// exits with code, printing nothing more. With usage set, the command's
// usage is still to be printed after err (a command line found wrong after
// its flags were parsed).
type exitError struct {
	code  int
	err   error
	usage bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the status arbor exits with.
func (e *exitError) ExitCode() int { return e.code }

// usagef is a command line a command finds wrong: exit code 2, with the
// command's usage.
func usagef(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...), usage: true}
}

// errUsage is a command line arbor cannot run, whose usage is printed.
var errUsage = &exitError{code: 2, err: fmt.Errorf("usage")}

// badArgf is an argument a command finds wrong that its usage would not
// explain (malformed JSON, say): one line on stderr, exit code 2.
func badArgf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}
