//go:build !unix

package main

// raiseFileLimit does nothing where there are no resource limits to raise.
func raiseFileLimit() (uint64, error) { return 0, nil }
