package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"time"

	"arbor/api"
)

// openapiDoc is the OpenAPI 3.1 document of the HTTP API, kept by hand beside
// the handlers it describes. The package's tests hold it to them: every
// route the router serves has its operation, and every answer of every
// test that talks HTTP to arbor is validated against it
// (internal/openapitest).
//
//go:embed openapi.json
var openapiDoc []byte

// OpenAPIDocument returns the OpenAPI 3.1 document of the HTTP API, as
// GET /openapi.json serves it. The caller must not modify it.
func OpenAPIDocument() []byte { return openapiDoc }

// docsFiles are the interactive reference: arbor's page and the Swagger UI
// files it loads, copied from the npm package swagger-ui-dist by make
// docs-assets (docs/README.md).
//
//go:embed docs/index.html docs/init.js docs/swagger-ui-bundle.js docs/swagger-ui.css
var docsFiles embed.FS

// The pages are named after what they serve: the document's file and the
// reference's directory.
const (
	specFile = "openapi.json"
	docsDir  = "docs"
)

// docsAssets are the files /docs loads, by name, with their content types.
var docsAssets = map[string]string{
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui.css":       "text/css; charset=utf-8",
	"init.js":              "text/javascript; charset=utf-8",
}

// docsPolicy lets the reference page load what arbor serves and nothing
// else: scripts, styles and requests go to arbor's own origin only (Swagger
// UI sets inline styles, and draws some icons as data: images).
const docsPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// DocsPages returns the pages that describe the API: GET /openapi.json, the
// document, and GET /docs, an interactive reference rendered from it in the
// browser with files arbor embeds (under /docs/). They are Open: they hold
// no data, so they need no API key.
func DocsPages() []Page {
	index := mustRead(path.Join(docsDir, "index.html"))
	assets := map[string]http.Handler{}
	for name, ctype := range docsAssets {
		assets[name] = staticFile(mustRead(path.Join(docsDir, name)), ctype, "")
	}
	prefix := "/" + docsDir + "/"
	return []Page{
		{Path: "/" + specFile, Handler: staticFile(openapiDoc, "application/json", ""), Open: true},
		{Path: "/" + docsDir, Handler: staticFile(index, "text/html; charset=utf-8", docsPolicy), Open: true},
		{Path: prefix + "*filepath", Open: true, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h, ok := assets[strings.TrimPrefix(r.URL.Path, prefix)]
			if !ok {
				writeProblem(w, r, api.ProblemFor(api.NotFound("No route for "+r.URL.Path)))
				return
			}
			h.ServeHTTP(w, r)
		})},
	}
}

// staticFile serves b as ctype, with an ETag of its digest (so that a
// browser revalidates rather than downloads it again) and, for a page, the
// Content-Security-Policy policy.
func staticFile(b []byte, ctype, policy string) http.Handler {
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if policy != "" {
			h.Set("Content-Security-Policy", policy)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	})
}

// mustRead reads an embedded file of the reference; go:embed guarantees
// that it is there.
func mustRead(name string) []byte {
	b, err := docsFiles.ReadFile(name)
	if err != nil {
		panic("httpapi: embedded " + name + ": " + err.Error())
	}
	return b
}
