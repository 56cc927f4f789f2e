// Package deptest holds the test that keeps arbor's dependencies pointing
// inward (see deptest_test.go); it has no code of its own.
package deptest
