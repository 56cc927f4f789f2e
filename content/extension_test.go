package content

import "testing"

func TestExtension(t *testing.T) {
	tests := []struct {
		contentType string
		want        string
	}{
		{"application/json", "json"},
		{"application/json; charset=utf-8", "json"},
		{"Application/JSON", "json"},
		{DataFrameType, "json"},
		{"application/vnd.chapkit.dataframe+json; charset=UTF-8", "json"},
		{"application/problem+json", "json"},
		{"text/csv", "csv"},
		{" TEXT/CSV ;header=present", "csv"},
		{"application/zip", "zip"},
		{"image/png", "png"},
		{"IMAGE/PNG", "png"},
		{"application/octet-stream", "bin"},
		{"application/x-pickle", "bin"},
		{"image/jpeg", "bin"},
		{"text/plain", "bin"},
		{"application/jsonl", "bin"},
		{"+json", "bin"},
		{"", "bin"},
		{";", "bin"},
	}
	for _, tt := range tests {
		if got := Extension(tt.contentType); got != tt.want {
			t.Fatalf("Extension(%q) = %q, want %q", tt.contentType, got, tt.want)
		}
	}
}
