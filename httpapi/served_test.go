package httpapi_test

import (
	"net/http"
	"testing"
)

// HEAD of the live feed answers its headers and ends: a feed never does,
// and a HEAD that waited for it would hold its connection.
func TestFeedHead(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodHead, base+"/$events", "")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD $events: %s", r)
	}
}

// A download whose If-Match is not the content's ETag is a 412 problem,
// as every error is.
func TestDownloadIfMatchProblem(t *testing.T) {
	e := newEnv(t)
	a := e.create(`{"data": {}}`)
	e.do(http.MethodPut, base+"/"+a.ID+"/$content", "bytes", "Content-Type", "application/octet-stream")
	r := e.do(http.MethodGet, base+"/"+a.ID+"/$download", "", "If-Match", `"not-the-digest"`)
	if r.Status != http.StatusPreconditionFailed || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("download with a stale If-Match: %s", r)
	}
}
