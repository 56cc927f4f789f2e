package content

import "strings"

// Extension returns the file extension (without a dot) for a download of
// content with the given media type: "json" for application/json and any
// "+json" type (DataFrameType among them), "csv" for text/csv, "zip" for
// application/zip, "png" for image/png, and "bin" for anything else,
// including the empty string. Parameters such as "; charset=utf-8" are
// ignored and the comparison is case-insensitive.
func Extension(contentType string) string {
	mt := mediaType(contentType)
	switch {
	case mt == "application/json", strings.Contains(mt, "/") && strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "text/csv":
		return "csv"
	case mt == "application/zip":
		return "zip"
	case mt == "image/png":
		return "png"
	}
	return "bin"
}

// mediaType returns contentType without parameters, trimmed and lower-cased,
// so that "Text/CSV; charset=utf-8" compares equal to "text/csv".
func mediaType(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}
