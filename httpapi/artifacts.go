package httpapi

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"
	"github.com/oklog/ulid/v2"

	"arbor/api"
	"arbor/command"
	"arbor/projection"
	"arbor/query"
)

const maxPageSize = 1000

//go:embed artifact.schema.json
var artifactSchema []byte

func (s *Server) create(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return s.createMultipart(w, r)
	}
	body, err := s.readJSON(r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	c, err := decodeCreate(body)
	if err != nil {
		return err
	}
	if c.Key, err = idempotencyKey(r, string(body)); err != nil {
		return err
	}
	a, pos, err := s.Commands.Create(r.Context(), c)
	if err != nil {
		return s.replayed(w, r, err)
	}
	w.Header().Set("Location", base+"/"+a.ID.String())
	return s.writeFullArtifact(w, r, http.StatusCreated, a, pos)
}

// decodeCreate reads the JSON body of a create.
func decodeCreate(body []byte) (command.Create, error) {
	var req api.CreateRequest
	if err := api.DecodeJSON(body, &req); err != nil {
		return command.Create{}, err
	}
	return req.Command()
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("version") && q.Has("as_of") {
		return api.BadRequest("version and as_of cannot go together")
	}
	if q.Has("version") {
		v := q.Get("version")
		if v == "" {
			return api.InvalidField("version", "must be a positive integer, not empty")
		}
		n, err := intParam(v, "version", 0, 1, -1)
		if err != nil {
			return err
		}
		a, err := s.Queries.AtVersion(r.Context(), id, n)
		if err != nil {
			return err
		}
		return s.writePastArtifact(w, r, a, nil)
	}
	pos, err := s.asOfParam(r.Context(), q)
	if err != nil {
		return err
	}
	if pos != nil {
		a, err := s.Queries.GetAt(r.Context(), id, *pos)
		if err != nil {
			return err
		}
		return s.writePastArtifact(w, r, a, pos)
	}
	a, err := s.Queries.Get(id)
	if err != nil {
		return err
	}
	return s.writeFullArtifact(w, r, http.StatusOK, a, 0)
}

// writePastArtifact writes an earlier version of an artifact in full. JSON
// content moved to the object store is read back if it is still there:
// content no live artifact refers to is collected after a grace period,
// and then the version's content is a null.
func (s *Server) writePastArtifact(w http.ResponseWriter, r *http.Request, a projection.Artifact, pos *uint64) error {
	if c := a.Content; c != nil && c.JSON {
		if has, err := s.Blobs.Has(r.Context(), c.SHA256); err == nil && !has {
			a.Content = nil
		}
	}
	setAsOf(w, pos)
	return s.writeFullArtifact(w, r, http.StatusOK, a, 0)
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	body, err := s.readJSON(r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	var req api.UpdateRequest
	if err := api.DecodeJSON(body, &req); err != nil {
		return err
	}
	ifm, err := api.IfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	u, err := req.Command(id, ifm)
	if err != nil {
		return err
	}
	if u.Key, err = idempotencyKey(r, strconv.Itoa(ifm), string(body)); err != nil {
		return err
	}
	a, pos, err := s.Commands.Update(r.Context(), u)
	if err != nil {
		return s.replayed(w, r, err)
	}
	return s.writeFullArtifact(w, r, http.StatusOK, a, pos)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	d := command.Delete{ID: id}
	if d.IfMatch, err = api.IfMatch(r.Header.Get("If-Match")); err != nil {
		return err
	}
	if d.Key, err = idempotencyKey(r, strconv.Itoa(d.IfMatch)); err != nil {
		return err
	}
	pos, err := s.Commands.Delete(r.Context(), d)
	if err != nil {
		return s.replayed(w, r, err)
	}
	w.Header().Set(api.HeaderPosition, strconv.FormatUint(pos, 10))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	lq, err := s.listQuery(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	p, err := s.Queries.List(r.Context(), lq)
	if err != nil {
		return err
	}
	setAsOf(w, lq.AsOf)
	return writeJSON(w, http.StatusOK, listView(p))
}

func (s *Server) postTree(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var req api.TreeRequest
	if err := s.decode(r.Body, r.Header.Get("Content-Type"), &req); err != nil {
		return err
	}
	id, depth, err := req.Query()
	if err != nil {
		return err
	}
	asOf, err := req.AsOfText()
	if err != nil {
		return err
	}
	pos, err := s.asOf(r.Context(), asOf)
	if err != nil {
		return err
	}
	return s.writeTree(w, r, id, depth, pos)
}

func (s *Server) getTree(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	depth := -1
	if v := r.URL.Query().Get("max_depth"); v != "" {
		if depth, err = intParam(v, "max_depth", 0, 0, -1); err != nil {
			return err
		}
	}
	pos, err := s.asOfParam(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	return s.writeTree(w, r, id, depth, pos)
}

func (s *Server) writeTree(w http.ResponseWriter, r *http.Request, id ulid.ULID, depth int, pos *uint64) error {
	return writeRead(w, pos, api.TreeView,
		func() (query.Tree, error) { return s.Queries.Tree(id, depth) },
		func(at uint64) (query.Tree, error) { return s.Queries.TreeAt(r.Context(), id, depth, at) })
}

func (s *Server) expand(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	pos, err := s.asOfParam(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	return writeRead(w, pos, api.ExpandView,
		func() (query.Tree, error) { return s.Queries.Expand(id) },
		func(at uint64) (query.Tree, error) { return s.Queries.ExpandAt(r.Context(), id, at) })
}

// writeRead writes the answer of a read that takes as_of: now's, or, at
// position pos, then's with the position in Arbor-Position.
func writeRead[T, V any](w http.ResponseWriter, pos *uint64, view func(T) V, now func() (T, error), then func(uint64) (T, error)) error {
	var (
		t   T
		err error
	)
	if pos != nil {
		t, err = then(*pos)
	} else {
		t, err = now()
	}
	if err != nil {
		return err
	}
	setAsOf(w, pos)
	return writeJSON(w, http.StatusOK, view(t))
}

// ancestors serves {"items": [root, ..., parent]}, each with its level
// label and its data without content, as trees show them.
func (s *Server) ancestors(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	pos, err := s.asOfParam(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	return writeRead(w, pos, api.AncestorsView,
		func() ([]query.Tree, error) { return s.Queries.Ancestors(id) },
		func(at uint64) ([]query.Tree, error) { return s.Queries.AncestorsAt(r.Context(), id, at) })
}

// history serves {"items": [...]}: every version of an artifact, live or
// deleted, oldest first.
func (s *Server) history(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	vs, err := s.Queries.History(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.HistoryView(vs))
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	id, err := pathID(ps)
	if err != nil {
		return err
	}
	m, err := s.Queries.Metadata(id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	pos, err := s.asOfParam(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	return writeRead(w, pos, func(st query.Stats) query.Stats { return st },
		func() (query.Stats, error) { return s.Queries.Stats(), nil },
		func(at uint64) (query.Stats, error) { return s.Queries.StatsAt(at), nil })
}

func (s *Server) schema(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	w.Header().Set("Content-Type", "application/schema+json")
	_, err := w.Write(artifactSchema)
	return err
}

// decode reads a JSON request body of type ct into v: 400 for a body that
// is not JSON, 413 past MaxBody, 422 naming the field for a value of the
// wrong type.
func (s *Server) decode(r io.Reader, ct string, v any) error {
	body, err := s.readJSON(r, ct)
	if err != nil {
		return err
	}
	return api.DecodeJSON(body, v)
}

// readJSON reads a JSON request body of type ct (empty: JSON): 400 for
// another type, 413 past MaxBody.
func (s *Server) readJSON(r io.Reader, ct string) ([]byte, error) {
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, api.BadRequest("Content-Type must be application/json, not %q", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, io.NopCloser(r), s.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, api.BadRequest("reading the body: %v", err)
	}
	return body, nil
}

func pathID(ps httprouter.Params) (ulid.ULID, error) {
	raw := ps.ByName("id")
	id, err := api.ParseID(raw)
	if err != nil {
		return ulid.ULID{}, api.InvalidULID(raw)
	}
	return id, nil
}

// intParam reads a query parameter: def when empty, 422 when it is not an
// integer within [lo, hi] (hi < 0: no upper bound).
func intParam(v, name string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return 0, api.InvalidField(name, "must be an integer, not %q", v)
	case n < lo:
		return 0, api.InvalidField(name, "must be %d or more", lo)
	case hi >= 0 && n > hi:
		return 0, api.InvalidField(name, "must be at most %d", hi)
	}
	return n, nil
}

func setArtifactHeaders(w http.ResponseWriter, a projection.Artifact, pos uint64) {
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(a.Version)))
	if pos != 0 {
		w.Header().Set(api.HeaderPosition, strconv.FormatUint(pos, 10))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
