// Package jsopen gets JetStream assets (streams, buckets, consumers),
// creating them only when they do not exist yet. It never updates an
// existing one: an update of a stream while consumers are being added races
// inside nats-server, and changing a running deployment's assets is an
// operator's decision.
package jsopen

import "errors"

// GetOrCreate returns what get finds, or what create makes when get fails
// with notFound. If create fails because another process created the asset
// first, GetOrCreate returns that one.
func GetOrCreate[T any](get, create func() (T, error), notFound error) (T, error) {
	v, err := get()
	if !errors.Is(err, notFound) {
		return v, err
	}
	v, err = create()
	if err != nil {
		if again, gerr := get(); gerr == nil {
			return again, nil
		}
	}
	return v, err
}
