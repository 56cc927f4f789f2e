// Package content knows what lives inside an artifact's data: chapkit's typed
// layout ({type, metadata, content, content_type, content_size,
// content_sha256}), DataFrames ({"columns", "data", "schema"?}), how a
// DataFrame is rendered for $download (JSON records or CSV), and which file
// extension a content type gets.
//
// The package is pure: it does no I/O beyond the io.Writer it is handed, keeps
// no state, and imports only the standard library. Validation reports
// problems as FieldError values, with dotted field paths ("data.metadata.status",
// "content.data[3]") that the HTTP layer can return as a 422 as they are.
//
// Cells of a DataFrame are kept as json.RawMessage, never float64, so numbers
// such as 1e400 or 0.1000 leave arbor exactly as they came in.
package content
