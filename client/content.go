package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
)

// CreateWithContent creates an artifact with content in one request: a
// multipart/form-data body whose part "artifact" is req as JSON and whose
// part "content" is r, of contentType (default application/octet-stream).
// r streams to the server as it is read, never held in memory whole. The
// artifact's data then carries content_type, content_size and
// content_sha256. Of the options, IdempotencyKey and Replayed apply; with
// a key, the multipart boundary is made from it, so that the same request
// sent again is the same body (the key is then best not written in the
// content).
func (c *Client) CreateWithContent(ctx context.Context, req CreateRequest, contentType string, r io.Reader, opts ...WriteOption) (Artifact, error) {
	body, err := jsonRequest(http.MethodPost, apiBase, req)
	if err != nil {
		return Artifact{}, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	o := newWriteOptions(opts)
	o.ifMatch = 0
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	if o.key != "" {
		sum := sha256.Sum256([]byte(o.key))
		if err := mw.SetBoundary("arbor-" + hex.EncodeToString(sum[:])); err != nil {
			return Artifact{}, err
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeParts(mw, body.body, contentType, r))
	}()
	// Whatever happens to the request, the writer is stopped and waited
	// for: it must not outlive the call, reading r.
	defer func() {
		pr.CloseWithError(io.ErrClosedPipe)
		<-done
	}()
	cr := request{method: http.MethodPost, path: apiBase, body: pr, ctype: mw.FormDataContentType()}
	o.apply(&cr)
	var a Artifact
	err = c.do(ctx, cr, &a)
	return a, err
}

// writeParts writes the two parts of a multipart create and closes mw.
func writeParts(mw *multipart.Writer, artifact io.Reader, contentType string, content io.Reader) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="artifact"`)
	h.Set("Content-Type", "application/json")
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, artifact); err != nil {
		return err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="content"; filename="content"`)
	h.Set("Content-Type", contentType)
	if w, err = mw.CreatePart(h); err != nil {
		return err
	}
	if _, err := io.Copy(w, content); err != nil {
		return fmt.Errorf("read content: %w", err)
	}
	return mw.Close()
}

// UploadContent stores the bytes of r, of contentType (default
// application/octet-stream), as the content of the artifact id, replacing
// any it had, and returns the artifact as updated. r streams to the server
// as it is read; when r is a *bytes.Reader, *bytes.Buffer or
// *strings.Reader its length is sent ahead, so that the server can refuse
// content too large before it is sent.
func (c *Client) UploadContent(ctx context.Context, id, contentType string, r io.Reader, opts ...WriteOption) (Artifact, error) {
	p, err := artifactPath(id, "$content")
	if err != nil {
		return Artifact{}, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	req := request{method: http.MethodPut, path: p, body: r, ctype: contentType}
	newWriteOptions(opts).apply(&req)
	var a Artifact
	err = c.do(ctx, req, &a)
	return a, err
}

// DownloadOptions qualify a download.
type DownloadOptions struct {
	// CSV asks for a DataFrame as CSV rather than JSON records. Other
	// content comes as it is.
	CSV bool
}

// Download is content being downloaded. The caller reads Body and must
// close it.
type Download struct {
	Body io.ReadCloser
	// ContentType is the content's type as stored, such as
	// "application/zip" or "text/csv; charset=utf-8".
	ContentType string
	// Filename is the name the server suggests, such as
	// "artifact_01J....zip"; empty if it suggests none.
	Filename string
	// Size is the content's length in bytes, -1 when not known ahead
	// (JSON and CSV renderings).
	Size int64
}

// Download opens the content of the artifact id: uploaded bytes as stored,
// JSON content as JSON, a DataFrame as JSON records or (opts.CSV) as CSV.
// An artifact without content is a not-found problem.
func (c *Client) Download(ctx context.Context, id string, opts DownloadOptions) (*Download, error) {
	p, err := artifactPath(id, "$download")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if opts.CSV {
		q.Set("format", "csv")
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: p, query: q})
	if err != nil {
		return nil, err
	}
	d := &Download{Body: resp.Body, ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		d.Filename = params["filename"]
	}
	return d, nil
}
