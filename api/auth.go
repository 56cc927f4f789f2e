package api

import "net/http"

// Problem types of access control: a request without a valid API key, and
// a key whose scope does not allow the request. Like the types of
// problem.go, they only grow.
const (
	TypeUnauthorized = "urn:servicekit:error:unauthorized"
	TypeForbidden    = "urn:servicekit:error:forbidden"
)

// Unauthorized is a 401 problem: the request carries no API key, or one
// arbor does not know. detail must not repeat the key.
func Unauthorized(detail string) error {
	return &Problem{Type: TypeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail}
}

// Forbidden is a 403 problem: the request's key is valid, but its scope
// does not allow the request.
func Forbidden(detail string) error {
	return &Problem{Type: TypeForbidden, Title: "Forbidden", Status: http.StatusForbidden, Detail: detail}
}
