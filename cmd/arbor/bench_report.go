package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// benchTarget is what a figure should reach: Op is ">=", "<=" or "<".
// Show, if set, is how Value reads.
type benchTarget struct {
	Op    string
	Value float64
	Show  string
}

func (t benchTarget) String() string {
	if t.Show != "" {
		return t.Op + " " + t.Show
	}
	return t.Op + " " + strconv.FormatFloat(t.Value, 'f', -1, 64)
}

func (t benchTarget) met(x float64) bool {
	switch t.Op {
	case ">=":
		return x >= t.Value
	case "<=":
		return x <= t.Value
	case "<":
		return x < t.Value
	}
	return false
}

// benchRow is one figure of the report.
type benchRow struct {
	section  int
	store    string
	name     string
	value    string
	baseline string
	ratio    string
	target   string
	verdict  string // PASS, MISS or empty
	detail   string
}

// benchReport collects every figure of a run, to print as one table.
// Rows print by section, in the order they came within one.
type benchReport struct {
	rows    []benchRow
	section int
}

// inSection makes the rows added next belong to section, until the
// function it returns restores the section before.
func (r *benchReport) inSection(section int) func() {
	before := r.section
	r.section = section
	return func() { r.section = before }
}

func (r *benchReport) add(row benchRow) {
	row.section = r.section
	r.rows = append(r.rows, row)
}

// info adds a figure with no target.
func (r *benchReport) info(store, name, value, detail string) {
	r.add(benchRow{store: store, name: name, value: value, detail: detail})
}

// ratio adds a figure read as ratio of value to baseline, held to t when t
// is not nil.
func (r *benchReport) ratio(store, name, value, baseline string, ratio float64, t *benchTarget, detail string) {
	row := benchRow{store: store, name: name, value: value, baseline: baseline, ratio: fmt.Sprintf("%.2f", ratio), detail: detail}
	if ratio < 0.1 {
		row.ratio = fmt.Sprintf("%.3f", ratio)
	}
	if t != nil {
		row.target, row.verdict = t.String(), verdict(t.met(ratio))
	}
	r.add(row)
}

// limit adds a figure x (shown as value) held to the absolute target t.
func (r *benchReport) limit(store, name, value string, x float64, t benchTarget, detail string) {
	r.add(benchRow{store: store, name: name, value: value, target: t.String(), verdict: verdict(t.met(x)), detail: detail})
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// print writes the table and a line counting the targets met.
func (r *benchReport) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "store\tfigure\tvalue\tbaseline\tratio\ttarget\tresult\tdetail")
	pass, miss := 0, 0
	rows := slices.Clone(r.rows)
	slices.SortStableFunc(rows, func(a, b benchRow) int { return cmp.Compare(a.section, b.section) })
	for _, row := range rows {
		switch row.verdict {
		case "PASS":
			pass++
		case "MISS":
			miss++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.store, row.name, dash(row.value), dash(row.baseline),
			dash(row.ratio), dash(row.target), dash(row.verdict), row.detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\ntargets: %d PASS, %d MISS\n", pass, miss)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// commas writes n with thousands separators.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func perSec(x float64) string { return commas(int64(x+0.5)) + "/s" }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// roundDur rounds d for reading: microseconds below a millisecond, then
// three significant digits or so.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// latencies describes r's p50 and p99, and its failures if any.
func latencies(r result) string {
	s := fmt.Sprintf("p50 %s p99 %s", roundDur(r.quantile(0.50)), roundDur(r.quantile(0.99)))
	if r.errors() > 0 {
		s += fmt.Sprintf(", %d non-2xx, %d transport errors", r.status, r.transport)
	}
	return s
}
