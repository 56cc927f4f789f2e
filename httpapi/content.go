package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"arbor/api"
	"arbor/blobstore"
	"arbor/command"
	"arbor/content"
	"arbor/events"
	"arbor/projection"
)

// putContent stores the raw request body as the artifact's content.
func (s *Server) putContent(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	ifm, err := api.IfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	// Refuse what can be refused before reading a byte of a possibly
	// large body (but a request sent again with its key: its answer may be
	// a replay, whatever the artifact's version now).
	keyed := r.Header.Get(HeaderIdempotencyKey) != ""
	cur, err := s.Queries.Get(id)
	if err != nil && !keyed {
		return err
	}
	if ifm != 0 && ifm != cur.Version && !keyed {
		return command.ErrStale
	}
	if _, err := idempotencyKey(r); err != nil {
		return err
	}
	c, err := s.upload(r.Context(), r.Body, r.ContentLength, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	att := command.AttachContent{ID: id, IfMatch: ifm, Content: c}
	if att.Key, err = idempotencyKey(r, strconv.Itoa(ifm), c.SHA256, c.Type); err != nil {
		return err
	}
	a, pos, err := s.Commands.AttachContent(r.Context(), att)
	if err != nil {
		return s.replayed(w, r, err)
	}
	return s.writeFullArtifact(w, r, http.StatusOK, a, pos)
}

// upload streams body into the object store.
func (s *Server) upload(ctx context.Context, body io.Reader, length int64, contentType string) (events.Content, error) {
	if length > s.MaxContent {
		return events.Content{}, fmt.Errorf("%w: %d bytes", blobstore.ErrTooLarge, length)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	in := &bodyReader{Reader: body}
	ref, err := s.Blobs.Put(ctx, in, s.MaxContent)
	if in.err != nil && !errors.Is(err, blobstore.ErrTooLarge) {
		// The client's body broke off (a cut-off multipart, a broken
		// chunk, a client gone): the client's mistake, not arbor's.
		return events.Content{}, api.BadRequest("reading the content: %v", in.err)
	}
	if err != nil {
		return events.Content{}, err
	}
	return events.Content{SHA256: ref.SHA256, Size: ref.Size, Type: contentType}, nil
}

// bodyReader remembers why reading a request body failed.
type bodyReader struct {
	io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// createMultipart creates an artifact from a multipart/form-data body: the
// part "artifact" holds the JSON body of a create, then the part "content"
// the file, which streams into the object store.
func (s *Server) createMultipart(w http.ResponseWriter, r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return api.BadRequest("multipart body: %v", err)
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "artifact" {
		return api.BadRequest(`the first part of a multipart create must be "artifact", the artifact's JSON`)
	}
	body, err := s.readJSON(part, "")
	if err != nil {
		return err
	}
	c, err := decodeCreate(body)
	if err != nil {
		return err
	}
	if _, err := idempotencyKey(r); err != nil {
		return err
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "content" {
		return api.BadRequest(`the second part of a multipart create must be "content", the file`)
	}
	if r.Header.Get(HeaderIdempotencyKey) == "" {
		// Before storing a byte of the file. (A request sent again with
		// its key may be answered as the first time, whatever the state.)
		if err := s.Commands.Validate(r.Context(), c); err != nil {
			return err
		}
	}
	att, err := s.upload(r.Context(), part, -1, part.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if _, err := mr.NextPart(); err != io.EOF {
		return api.BadRequest(`a multipart create has exactly two parts, "artifact" and "content"`)
	}
	c.Attachment = &att
	if c.Key, err = idempotencyKey(r, "multipart", string(body), att.SHA256, att.Type); err != nil {
		return err
	}
	a, pos, err := s.Commands.Create(r.Context(), c)
	if err != nil {
		return s.replayed(w, r, err)
	}
	w.Header().Set("Location", base+"/"+a.ID.String())
	return s.writeFullArtifact(w, r, http.StatusCreated, a, pos)
}

// download serves an artifact's content: uploaded bytes as stored (with
// ranges and conditional requests), JSON content as JSON, DataFrames as
// records or CSV.
func (s *Server) download(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	format, err := formatParam(r)
	if err != nil {
		return err
	}
	a, c, err := s.Queries.Content(r.Context(), id)
	if err != nil {
		if a.Content != nil {
			// JSON content moved to the object store, read back.
			return api.ContentFault(a.ID, a.Content.SHA256, err)
		}
		return err
	}
	// Accept: text/csv asks for CSV where there is a choice; ?format=csv
	// insists on it.
	csv := format == "csv" || (format == "" && acceptsCSV(r))
	var df *content.DataFrame
	if c.DataFrame {
		// arbor writes no DataFrame that does not parse; the log may hold
		// one all the same (it is data, not trust), whose JSON is served
		// as stored, like any other JSON content.
		df, _ = content.ParseDataFrame(c.JSON)
	}
	switch {
	case df != nil:
		if csv {
			setDownloadHeaders(w, a, "text/csv; charset=utf-8")
			return df.WriteCSV(w)
		}
		setDownloadHeaders(w, a, c.Type)
		return df.WriteRecords(w)
	case format == "csv":
		return api.InvalidField("format", "only DataFrame content downloads as CSV")
	case c.File != nil:
		return s.serveBlob(w, r, a)
	}
	// A string under a content_type that is not JSON is that text.
	raw := []byte(c.JSON)
	var text string
	if content.Extension(c.Type) != "json" && json.Unmarshal(raw, &text) == nil {
		raw = []byte(text)
	}
	setDownloadHeaders(w, a, c.Type)
	_, err = w.Write(raw)
	return err
}

// serveBlob serves a's file from the object store. The content is opened
// before a header is sent: content that is missing, or whose recorded
// digest or size is not what a refers to, is a problem (502), never other
// bytes under a's ETag. Bytes that turn out wrong while they stream (the
// object's chunks overwritten) cut the response off before its last bytes.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, a projection.Artifact) error {
	c := a.Content
	ctx := r.Context()
	ref := blobstore.Ref{SHA256: c.SHA256, Size: c.Size}
	rs := &blobReader{open: func() (io.ReadCloser, error) { return s.Blobs.OpenRef(ctx, ref) }, size: c.Size}
	defer rs.Close()
	if err := rs.start(); err != nil {
		return api.ContentFault(a.ID, c.SHA256, err)
	}
	setDownloadHeaders(w, a, c.Type)
	w.Header().Set("ETag", strconv.Quote(c.SHA256))
	if rng, ok := normalRange(r.Header.Get("Range"), c.Size); ok {
		r.Header.Set("Range", rng)
	} else {
		r.Header.Del("Range") // RFC 9110: a Range it cannot parse is ignored
	}
	http.ServeContent(&servedProblem{ResponseWriter: w, r: r}, r, "", time.Time{}, rs)
	if rs.err != nil {
		s.abort(r, a, rs.err)
	}
	return nil
}

func setDownloadHeaders(w http.ResponseWriter, a projection.Artifact, ctype string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition",
		fmt.Sprintf("attachment; filename=artifact_%s.%s", a.ID, content.Extension(ctype)))
}

// formatParam is ?format=: "csv", "json" or "" (not given).
func formatParam(r *http.Request) (string, error) {
	switch f := strings.ToLower(r.URL.Query().Get("format")); f {
	case "csv", "json", "":
		return f, nil
	default:
		return "", api.InvalidField("format", "must be csv or json, not %q", f)
	}
}

// acceptsCSV reports whether Accept names text/csv (with a q above 0).
func acceptsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/csv" {
			q, err := strconv.ParseFloat(params["q"], 64)
			return params["q"] == "" || (err == nil && q > 0)
		}
	}
	return false
}

// writeFullArtifact writes a with its full data: for JSON content moved to
// the object store, the content streams back into its place. That content
// is opened before a header is sent, so that content missing or not what a
// refers to is a problem (502) rather than a broken document.
func (s *Server) writeFullArtifact(w http.ResponseWriter, r *http.Request, status int, a projection.Artifact, pos uint64) error {
	doc, size, err := api.FullJSON(a)
	if err != nil {
		return err
	}
	var blobs api.Blobs = s.Blobs
	if c := a.Content; c != nil && c.JSON {
		blob, err := s.Blobs.OpenRef(r.Context(), blobstore.Ref{SHA256: c.SHA256, Size: c.Size})
		if err != nil {
			return api.ContentFault(a.ID, c.SHA256, err)
		}
		blobs = opened{blob} // which WriteFull closes
	}
	setArtifactHeaders(w, a, pos)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.FormatInt(size+1, 10))
	w.WriteHeader(status)
	if err := api.WriteFull(r.Context(), w, a, doc, blobs); err != nil {
		s.abort(r, a, err)
	}
	_, _ = w.Write([]byte("\n"))
	return nil
}

// opened is content already opened, as api.WriteFull opens it.
type opened struct{ r io.ReadCloser }

func (o opened) Open(context.Context, string) (io.ReadCloser, error) { return o.r, nil }

// abort ends a response whose status line is sent but whose body cannot be
// finished: the connection is cut, so that the client sees a broken
// transfer rather than a short body that looks whole.
func (s *Server) abort(r *http.Request, a projection.Artifact, err error) {
	if r.Context().Err() == nil {
		s.Logger.Error("response cut off", "artifact", a.ID, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// blobReader is an io.ReadSeeker over content in the object store, for
// http.ServeContent: seeking is free, and reading reads on from where the
// content is open, skipping what comes before the offset, or opens it again
// from its start to go back.
type blobReader struct {
	open func() (io.ReadCloser, error) // the content from its start
	size int64
	off  int64         // where the next Read reads
	r    io.ReadCloser // the content, read up to pos; nil when not open
	pos  int64
	err  error
}

// start opens the content, before anything is sent.
func (b *blobReader) start() error {
	r, err := b.open()
	if err != nil {
		return err
	}
	b.r, b.pos = r, 0
	return nil
}

func (b *blobReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	b.off = offset
	return offset, nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.r != nil && b.pos > b.off {
		b.r.Close()
		b.r = nil
	}
	if b.r == nil {
		if err := b.start(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if b.pos < b.off {
		n, err := io.CopyN(io.Discard, b.r, b.off-b.pos)
		b.pos += n
		if err != nil {
			b.err = err
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	b.off += int64(n)
	b.pos += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *blobReader) Close() error {
	if b.r != nil {
		return b.r.Close()
	}
	return nil
}

// maxRanges is the most byte ranges one download serves; each may read the
// content from its start again.
const maxRanges = 8

// normalRange reads a Range header for content of size bytes as RFC 9110
// has it, and returns it in the form http.ServeContent serves right, or
// false for a header to ignore (it does not parse, or asks for more
// ranges than maxRanges). A last byte past the end, however large, is the
// last byte; a range that cannot be satisfied (starting past the end, or a
// suffix of 0 bytes) is left out, and with none left the header asks for
// what ServeContent answers 416.
func normalRange(v string, size int64) (string, bool) {
	if v == "" {
		return "", false
	}
	set, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return "", false
	}
	specs := strings.Split(set, ",")
	if len(specs) > maxRanges {
		return "", false // served whole rather than read again and again
	}
	var kept []string
	for _, spec := range specs {
		first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
		if !ok || (first == "" && last == "") || !digits(first) || !digits(last) {
			return "", false
		}
		f, ferr := strconv.ParseInt(first, 10, 64)
		l, lerr := strconv.ParseInt(last, 10, 64)
		if lerr != nil && last != "" {
			l = math.MaxInt64 // only digits: too large for an int64
		}
		switch {
		case first == "": // the last l bytes
			if l > 0 {
				kept = append(kept, "-"+strconv.FormatInt(l, 10))
			}
		case ferr != nil:
			// Starts past any content.
		case last != "" && l < f:
			return "", false
		case f >= size:
			// Starts past this content.
		case last == "":
			kept = append(kept, first+"-")
		default:
			kept = append(kept, first+"-"+strconv.FormatInt(min(l, size-1), 10))
		}
	}
	if len(kept) == 0 {
		return fmt.Sprintf("bytes=%d-", size), true // unsatisfiable: 416
	}
	return "bytes=" + strings.Join(kept, ","), true
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// servedProblem turns the plain-text errors http.ServeContent writes into
// problems: 416 for a range past the end, 412 for an If-Match that is not
// the content's ETag.
type servedProblem struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool
}

func (w *servedProblem) WriteHeader(code int) {
	var p *api.Problem
	switch code {
	case http.StatusRequestedRangeNotSatisfiable:
		p = &api.Problem{Type: api.TypeRange, Title: "Range Not Satisfiable",
			Status: code, Detail: "The range is outside the content (its size is in Content-Range)"}
	case http.StatusPreconditionFailed:
		p = &api.Problem{Type: api.TypePrecondition, Title: "Precondition Failed",
			Status: code, Detail: "If-Match does not match the content's ETag"}
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.swallow = true
	w.Header().Del("Content-Disposition")
	writeProblem(w.ResponseWriter, w.r, p)
}

func (w *servedProblem) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
