//go:build !unix

package main

import "math"

// diskFree knows no free space where there is no statfs: never too little.
func diskFree(string) (uint64, error) { return math.MaxUint64, nil }
