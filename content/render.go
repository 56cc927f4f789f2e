package content

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
)

// bufSize is the write buffer of the renderers. It is at least bufio's
// default size, which WriteCSV relies on (see there).
const bufSize = 64 << 10

// WriteRecords writes df to w as a JSON array of row objects, keys in column
// order and cells as their bytes in Rows:
//
//	[{"rainfall":110.0,"temperature":26.0},{"rainfall":90.0,"temperature":28.0}]
//
// A frame without rows is "[]". There is no trailing newline. Keys are JSON
// strings without HTML escaping; an empty cell (nil RawMessage) is written as
// null. Output is streamed through a small buffer, so memory does not grow
// with the frame. It returns w's first error, or an error for a row whose
// width differs from len(df.Columns); what was written before stays written.
// df must not be nil and is only read, so concurrent calls are safe.
func (df *DataFrame) WriteRecords(w io.Writer) error {
	keys := make([][]byte, len(df.Columns))
	for i, c := range df.Columns {
		keys[i] = jsonString(c)
	}
	bw := bufio.NewWriterSize(w, bufSize)
	bw.WriteByte('[')
	for i, row := range df.Rows {
		if len(row) != len(df.Columns) {
			return rowWidthError(i, len(row), len(df.Columns))
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('{')
		for j, cell := range row {
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.Write(keys[j])
			bw.WriteByte(':')
			if len(cell) == 0 {
				bw.WriteString("null")
			} else {
				bw.Write(cell)
			}
		}
		// bufio errors are sticky: checking once a row stops early on a dead writer.
		if err := bw.WriteByte('}'); err != nil {
			return err
		}
	}
	bw.WriteByte(']')
	return bw.Flush()
}

// WriteCSV writes df to w as CSV (RFC 4180 quoting, via encoding/csv) with a
// header row of the column names. Records end in LF, not RFC 4180's CRLF:
// encoding/csv's default, and what Python's and most other readers accept.
//
// A string cell is written as its text (quoted by encoding/csv when it holds
// a comma, double quote, CR or LF, or starts with a space); numbers and
// booleans as their JSON text, exactly (1e400 stays 1e400); null, and an
// empty cell, as an empty field; arrays and objects as their compact JSON. A
// record of one empty field is written as "" rather than an empty line,
// which readers would skip. Output is streamed like WriteRecords. It returns
// w's first error, or an error for a row of the wrong width or a cell that is
// not valid JSON; what was written before stays written. df must not be nil.
func (df *DataFrame) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, bufSize)
	// bufio.NewWriterSize hands back bw itself when its buffer is at least
	// bufio's default size, so cw writes straight into bw and writeRecord can
	// interleave its own bytes without flushing.
	cw := csv.NewWriter(bw)
	if err := writeRecord(cw, bw, df.Columns); err != nil {
		return err
	}
	record := make([]string, len(df.Columns))
	var scratch bytes.Buffer
	for i, row := range df.Rows {
		if len(row) != len(df.Columns) {
			return rowWidthError(i, len(row), len(df.Columns))
		}
		for j, cell := range row {
			s, err := cellText(cell, &scratch)
			if err != nil {
				return fmt.Errorf("content: row %d, column %q: %w", i, df.Columns[j], err)
			}
			record[j] = s
		}
		if err := writeRecord(cw, bw, record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeRecord writes one CSV record. encoding/csv writes a lone empty field
// as an empty line, which csv readers skip as blank; Python's csv module
// writes "" instead, and so does this.
func writeRecord(cw *csv.Writer, bw *bufio.Writer, record []string) error {
	if len(record) == 1 && record[0] == "" {
		_, err := bw.WriteString("\"\"\n")
		return err
	}
	return cw.Write(record)
}

// cellText returns the CSV text of one JSON cell. scratch is reused between
// calls to compact nested values.
func cellText(cell json.RawMessage, scratch *bytes.Buffer) (string, error) {
	switch kind(cell) {
	case 0, 'n':
		return "", nil
	case '"':
		var s string
		if err := json.Unmarshal(cell, &s); err != nil {
			return "", err
		}
		return s, nil
	case '{', '[':
		scratch.Reset()
		if err := json.Compact(scratch, cell); err != nil {
			return "", err
		}
		return scratch.String(), nil
	}
	return string(bytes.Trim(cell, " \t\r\n")), nil
}

// jsonString returns s as a JSON string literal, without the HTML escaping
// json.Marshal does.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func rowWidthError(i, got, want int) error {
	return fmt.Errorf("content: row %d has %d values, want %d (one per column)", i, got, want)
}
