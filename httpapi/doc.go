// Package httpapi serves arbor's REST API: routes (httprouter), request
// decoding, responses, and problem+json errors. problemFor is the one place
// where an error becomes a status.
package httpapi
