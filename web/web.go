package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"arbor/api"
	"arbor/httpapi"
)

//go:embed dist
var dist embed.FS

// securityHeaders are sent with every page: the app loads nothing but its
// own files and talks to nothing but its own origin, and no other site may
// frame it.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
}

// file is one embedded file, ready to serve.
type file struct {
	name string
	body []byte
	etag string
	typ  string
}

func load(name string) file {
	body, err := fs.ReadFile(dist, name)
	if err != nil {
		panic("web: the embedded " + name + " is missing: " + err.Error())
	}
	sum := sha256.Sum256(body)
	typ := mime.TypeByExtension(path.Ext(name))
	if typ == "" {
		typ = "application/octet-stream"
	}
	return file{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, typ: typ}
}

// serve writes f, answering a conditional request by its ETag. The files
// keep their names from build to build, so browsers revalidate them each
// time (no-cache) and get a 304 while they are unchanged.
func (f file) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	h.Set("Content-Type", f.typ)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}

// Pages returns the browser's pages for httpapi.Server.Pages: the app at
// GET / and the files it loads under /ui/. They are open: they carry no
// data, and the app asks for an API key when the API wants one.
func Pages() []httpapi.Page {
	index := load("dist/index.html")
	assets := map[string]file{}
	err := fs.WalkDir(dist, "dist/ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		assets[strings.TrimPrefix(p, "dist/ui/")] = load(p)
		return nil
	})
	if err != nil {
		panic("web: reading the embedded files: " + err.Error())
	}
	return []httpapi.Page{
		{Path: "/", Handler: http.HandlerFunc(index.serve), Open: true},
		{Path: "/ui/*filepath", Open: true, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f, ok := assets[strings.TrimPrefix(r.URL.Path, "/ui/")]
			if !ok {
				notFound(w, r)
				return
			}
			f.serve(w, r)
		})},
	}
}

// notFound answers as the API does, with a problem document.
func notFound(w http.ResponseWriter, r *http.Request) {
	p := *api.ProblemFor(api.NotFound("No route for " + r.URL.Path))
	p.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
