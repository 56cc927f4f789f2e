package openapitest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"
	"testing"
)

// Transport returns an http.RoundTripper that sends each request with next
// (http.DefaultTransport when nil) and validates the exchange, failing tb
// on a mismatch, before it hands the answer back:
//
//   - the request's body is kept as it is sent, up to Limit: it is known
//     when the whole of it was sent, within the limit, by the time the
//     answer came;
//   - the answer's body is read, up to Limit, and handed back as it came
//     (an error reading it included); a larger one, or one cut off, is
//     checked on status and headers;
//   - a stream (text/event-stream, the live feed) is checked on status and
//     headers at once and handed back unread, so that it flows as it
//     comes.
//
// An exchange that fails (no answer) is not checked.
func (v *Validator) Transport(tb testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{v: v, tb: tb, next: next}
}

type transport struct {
	v    *Validator
	tb   testing.TB
	next http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	orig := req
	var sent *teeBody
	if req.Body != nil && req.Body != http.NoBody {
		sent = &teeBody{rc: req.Body, kept: NewBuffer(Limit)}
		req = req.Clone(req.Context())
		req.Body = sent
		if getBody := orig.GetBody; getBody != nil {
			// A retry sends the body again from its start.
			req.GetBody = func() (io.ReadCloser, error) {
				rc, err := getBody()
				if err != nil {
					return nil, err
				}
				return sent.restart(rc), nil
			}
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	x := Exchange{Req: orig, ReqKnown: true, Resp: resp}
	if sent != nil {
		x.ReqBody, x.ReqKnown = sent.bytes(req.ContentLength)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case req.Method == http.MethodHead:
		x.RespKnown = true
	case mt == "text/event-stream" || resp.ContentLength > Limit:
	default:
		b, err := io.ReadAll(io.LimitReader(resp.Body, Limit+1))
		switch {
		case err == nil && len(b) <= Limit:
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			x.RespBody, x.RespKnown = b, true
		case err == nil:
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		default:
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), errReader{err}), resp.Body}
		}
	}
	t.v.CheckExchange(t.tb, x)
	return resp, nil
}

// teeBody is a request's body that keeps what is read of it, and notes
// when it has all been read.
type teeBody struct {
	mu   sync.Mutex
	rc   io.ReadCloser
	kept *Buffer
	eof  bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	rc := b.rc
	b.mu.Unlock()
	n, err := rc.Read(p)
	b.kept.Write(p[:n])
	if errors.Is(err, io.EOF) {
		b.mu.Lock()
		b.eof = true
		b.mu.Unlock()
	}
	return n, err
}

func (b *teeBody) Close() error {
	b.mu.Lock()
	rc := b.rc
	b.mu.Unlock()
	return rc.Close()
}

// restart starts the body again from rc, forgetting what was read.
func (b *teeBody) restart(rc io.ReadCloser) io.ReadCloser {
	b.mu.Lock()
	b.rc, b.eof = rc, false
	b.mu.Unlock()
	b.kept.reset()
	return b
}

// bytes returns the body as sent, and whether it is all of it: all was
// read, or as much as the request's length says.
func (b *teeBody) bytes(length int64) ([]byte, bool) {
	b.mu.Lock()
	eof := b.eof
	b.mu.Unlock()
	kept, whole := b.kept.Bytes()
	return kept, whole && (eof || length > 0 && int64(len(kept)) == length)
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
