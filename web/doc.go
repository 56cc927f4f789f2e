// Package web is arbor's lineage browser: a single-page app that lists a
// hierarchy's roots, expands their trees level by level, shows an
// artifact's data, tags, ancestors, children and content (a DataFrame as a
// table of its first rows), and follows the live feed so that new
// artifacts appear as they are created.
//
// The app is a client of the public REST API and holds no data of its
// own: its pages are static files, served without an API key, and the app
// sends the key the user gives it (kept in the browser's localStorage) with
// every request it makes. Its source is in web/src; make ui builds it with
// esbuild into web/dist, which is committed and embedded in the binary, so
// building arbor needs no Node.
package web
