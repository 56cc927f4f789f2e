package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// run is the data of a typical artifact, about 200 bytes; model_type comes
// after an object, so reading it skips one.
const run = `{"name":"run-042","dataset":"sales-2026-q1","epochs":20,` +
	`"metrics":{"mae":0.15,"r2":0.91,"rmse":0.21},"model_type":"LinearRegression",` +
	`"layers":[64,32,1],"params":{"lr":0.001,"alpha":1e3,"shift":-2.5},` +
	`"note":"say \"hi\"\tto caf\u00e9 \ud83d\ude00","ok":true,"none":null}`

func vars() *Vars {
	return &Vars{
		Data:       json.RawMessage(run),
		Tags:       []string{"prod", "v2"},
		Level:      2,
		LevelLabel: "model",
		Hierarchy:  "ml",
		ParentID:   "01J0000000000000000000000A",
		CreatedAt:  time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		UpdatedAt:  time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC),
	}
}

func TestMatch(t *testing.T) {
	root := vars()
	root.ParentID = ""
	root.Tags = nil
	empty := vars()
	empty.Data = nil
	spaced := vars()
	spaced.Data = json.RawMessage(" \n{ \"a\" : { \"b\" : [ 1 , { \"c\" : \"d\" } ] } , \"e\" : -0.5e-1 }\n")
	escapedKey := vars()
	escapedKey.Data = json.RawMessage(`{"a\"b":1,"caf\u00e9":2,"x\\":"\/"}`)

	for _, c := range []struct {
		expr string
		v    *Vars
		want bool
	}{
		// The examples.
		{`data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`, nil, true},
		{`data.metrics.rmse < 0.2 && data.model_type == "LinearRegression"`, nil, false},
		{`data.metrics.rmse < 0.3 && data.model_type == "Ridge"`, nil, false},
		{`"prod" in tags || level_label == "model"`, nil, true},
		{`"prod" in tags`, root, false},
		{`"staging" in tags || level_label == "dataset"`, nil, false},
		{`data.epochs > 10`, nil, true},
		{`data.epochs > 20`, nil, false},
		{`data.epochs >= 20 && data.epochs == 20 && data.epochs != 21`, nil, true},
		{`data.epochs == 20.0`, nil, true},
		{`has(data.metrics)`, nil, true},
		{`has(data.metrics.rmse)`, nil, true},
		{`has(data.metrics.accuracy)`, nil, false},
		{`has(data.missing)`, nil, false},
		{`has(data.name.x)`, nil, false},
		{`data.name.startsWith("run-")`, nil, true},
		{`data.name.startsWith("exp-")`, nil, false},
		{`data.name.endsWith("042") && data.name.contains("n-0")`, nil, true},
		{`data.name.matches("^run-[0-9]+$")`, nil, true},
		{`size(data.name) == 7`, nil, true},
		{`size(tags) == 0`, root, true},
		{`size(tags) == 0`, nil, false},
		{`size(tags) == 2`, nil, true},
		{`parent_id == null`, root, true},
		{`parent_id == null`, nil, false},
		{`parent_id != null && parent_id.startsWith("01J")`, nil, true},
		{`parent_id == "01J0000000000000000000000A"`, nil, true},
		{`level == 2 && hierarchy == "ml"`, nil, true},
		{`level > 2`, nil, false},

		// Times.
		{`created_at > timestamp("2026-01-01T00:00:00Z")`, nil, true},
		{`created_at > timestamp("2026-06-01T00:00:00Z")`, nil, false},
		{`updated_at - created_at == duration("24h")`, nil, true},
		{`created_at.getMonth() == 2`, nil, true},

		// Missing fields are no match, not an error, unless the other
		// side of || or && decides.
		{`data.missing > 1`, nil, false},
		{`data.missing == "x"`, nil, false},
		{`!(data.missing == "x")`, nil, false},
		{`data.missing.deeper == 1`, nil, false},
		{`data.missing > 1 || true`, nil, true},
		{`true || data.missing > 1`, nil, true},
		{`data.missing > 1 && false`, nil, false},
		{`data.metrics.missing < 1`, nil, false},
		{`data.name > 1`, nil, false},
		{`data.name.startsWith(1.0 < 2.0 ? "r" : "x")`, nil, true},
		{`data.epochs.startsWith("2")`, nil, false},
		{`data.metrics.rmse < 0.3`, empty, false},
		{`size(data) == 0`, empty, true},

		// Escaped strings and keys.
		{`data.note == "say \"hi\"\tto café 😀"`, nil, true},
		{`data.note.contains("café")`, nil, true},
		{`size(data.note) == 18`, nil, true},
		{`data["a\"b"] == 1 && data["café"] == 2 && data["x\\"] == "/"`, escapedKey, true},
		{`"café" in data && !("cafe" in data)`, escapedKey, true},

		// Nested paths and white space.
		{`data.params.lr == 0.001`, nil, true},
		{`data.a.b[1].c == "d"`, spaced, true},
		{`data.e == -0.05`, spaced, true},
		{`data["metrics"]["rmse"] == 0.21`, nil, true},

		// Arrays.
		{`data.layers[0] == 64`, nil, true},
		{`data.layers[2] == 1.0`, nil, true},
		{`data.layers[3] == 1`, nil, false},
		{`64 in data.layers`, nil, true},
		{`65 in data.layers`, nil, false},
		{`size(data.layers) == 3`, nil, true},
		{`data.layers.all(x, x > 0)`, nil, true},
		{`data.layers.exists(x, x > 100)`, nil, false},
		{`data.layers == [64, 32, 1]`, nil, true},
		{`data.layers + [5] == [64, 32, 1, 5]`, nil, true},
		{`[64.0, 32.0, 1.0] == data.layers && data.layers != [64]`, nil, true},
		{`data.layers + data.layers == [64, 32, 1, 64, 32, 1] && 1 in data.layers + [5]`, nil, true},
		{`data.layers.map(x, x * 2.0)[0] == 128.0 && type(data.layers) == list`, nil, true},
		{`data.a.b[1] == {"c": "d"} && data.a.b[1] != {"c": "e"}`, spaced, true},
		{`data.a.b.exists(x, has(x.c))`, spaced, true}, // has(1.c) is false, not an error
		{`data.a.b.all(x, x.c == "d")`, spaced, false}, // 1.c is an error
		{`data.a.b.exists(x, x.c == "d")`, spaced, true},

		// Numbers.
		{`data.params.alpha == 1000`, nil, true},
		{`data.params.alpha > 999.5`, nil, true},
		{`data.params.shift < -2`, nil, true},
		{`data.params.shift == -2.5`, nil, true},
		{`data.epochs == 20u`, nil, true},

		// Booleans, null, maps.
		{`data.ok == true && !(data.ok == false)`, nil, true},
		{`data.none == null`, nil, true},
		{`has(data.none)`, nil, true},
		{`data.metrics == {"mae": 0.15, "r2": 0.91, "rmse": 0.21}`, nil, true},
		{`data.metrics == {"mae": 0.15, "r2": 0.91}`, nil, false},
		{`data.metrics != {"mae": 1}`, nil, true},
		{`{"mae": 0.15, "r2": 0.91, "rmse": 0.21} == data.metrics`, nil, true},
		{`data.params == data.params`, nil, true},
		{`size(data.metrics) == 3`, nil, true},
		{`"rmse" in data.metrics && !("acc" in data.metrics)`, nil, true},
		{`data.metrics.all(k, data.metrics[k] < 1.0)`, nil, true},
		{`data.metrics.exists(k, k == "r2")`, nil, true},
		{`type(data) == map && type(data.name) == string && type(data.epochs) == double`, nil, true},
		{`string(data.epochs) == "20"`, nil, true},
		{`int(data.epochs) == 20`, nil, true},
		{`dyn(data.metrics).rmse == 0.21`, nil, true},
	} {
		v := c.v
		if v == nil {
			v = vars()
		}
		e, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%s): %v", c.expr, err)
			continue
		}
		got, err := e.Match(v)
		if err != nil || got != c.want {
			t.Errorf("Match(%s) = %v, %v; want %v", c.expr, got, err, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string // substrings of the message
	}{
		{`data.x <`, []string{"line 1, column 9", "Syntax error"}},
		{`level == 1 &&& level == 2`, []string{"line 1, column 14", "Syntax error"}},
		{"level == 1 &&\n  (level == ", []string{"line 2, column 13"}},
		{`level == "one"`, []string{"line 1, column 7", "no matching overload"}},
		{`nosuch == 1`, []string{"line 1, column 1", "undeclared reference to 'nosuch'"}},
		{`size(tags) + "x" == 1`, []string{"no matching overload"}},
		{`data.name.matches("[")`, []string{"regexp", "missing closing ]"}},
		{`created_at > timestamp("yesterday")`, []string{"timestamp", "yesterday"}},
		{`data.x`, []string{"must be a boolean expression", "dyn"}},
		{`level`, []string{"must be a boolean expression", "int"}},
		{`tags`, []string{"must be a boolean expression", "list(string)"}},
		{`""`, []string{"must be a boolean expression", "string"}},
		{``, []string{"empty"}},
		{" \n\t", []string{"empty"}},
		{strings.Repeat(`level == 1 || `, 300) + `true`, []string{"4204 bytes long", "limit is 4096"}},
	} {
		_, err := Compile(c.expr)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q) = %v, want an *Error", c.expr, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(fe.Msg, w) {
				t.Errorf("Compile(%q): %q, want it to mention %q", c.expr, fe.Msg, w)
			}
		}
		if strings.Contains(fe.Msg, "\n") {
			t.Errorf("Compile(%q): %q spans lines", c.expr, fe.Msg)
		}
	}
	// Just under the limit is fine.
	long := strings.Repeat(`level == 1 || `, 292) + `true`
	if len(long) > 4096 {
		t.Fatalf("test expression is %d bytes", len(long))
	}
	if _, err := Compile(long); err != nil {
		t.Errorf("Compile(%d bytes): %v", len(long), err)
	}
}

// numbers returns data whose member big is the list 0, 1, ... n-1.
func numbers(n int) json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"big":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString(`],"name":"x"}`)
	return json.RawMessage(b.String())
}

func TestCostLimit(t *testing.T) {
	small, huge := vars(), vars()
	small.Data, huge.Data = numbers(2000), numbers(20_000)
	for _, c := range []struct {
		expr string
		v    *Vars
		want string
	}{
		// Four million turns.
		{`data.big.exists(x, data.big.exists(y, x + y < 0.0))`, small, "5000 turns"},
		// Turns that cost CEL nothing.
		{`data.big.filter(x, false).size() > 0`, huge, "5000 turns"},
		// The limit holds even where the loops do not decide the result.
		{`data.big.exists(x, data.big.exists(y, false)) || true`, small, "5000 turns"},
		// Few turns, each searching the whole list.
		{`data.big.all(x, !(x + 0.5 in data.big))`, small, "16 MiB of data read"},
		// Few turns, each costly.
		{`data.big.all(x, x` + strings.Repeat(` + 1.0`, 60) + ` > 0.0)`, small, "cost limit of 100000"},
		// A copy of a long list, to compare.
		{`data.big == data.big.map(x, x)`, huge, "5000 turns"},
	} {
		e, err := Compile(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := e.Match(c.v)
		var fe *Error
		if !errors.As(err, &fe) || !strings.Contains(fe.Msg, c.want) {
			t.Errorf("Match(%s) = %v, %v; want an *Error about the %s", c.expr, ok, err, c.want)
		}
	}

	// Loops within the limits are fine.
	for _, expr := range []string{
		`data.big.exists(x, x == 1999.0)`,
		`data.big.all(x, x >= 0.0) && data.big.map(x, x * 2.0)[1999] == 3998.0`,
		`data.big[1999] == 1999.0 && size(data.big) == 2000`,
	} {
		e, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := e.Match(small); !ok || err != nil {
			t.Errorf("Match(%s) = %v, %v; want true", expr, ok, err)
		}
	}

	// An expression over the limit whatever the data is refused at once.
	list := `[` + strings.Repeat(`1,`, 600) + `1]`
	_, err := Compile(list + `.map(x, ` + list + `.map(y, x + y)).size() > 0`)
	var fe *Error
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "the limit is") {
		t.Errorf("Compile(costly) = %v, want a cost *Error", err)
	}
}

// A loop that reads a large object in each turn is cheap for CEL's cost
// limit, but would scan gigabytes.
func TestScanLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"big":[`)
	for i := range 3000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString(`],"nested":{`)
	for i := range 5000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"key%d":"value %d"`, i, i)
	}
	b.WriteString(`}}`)
	v := vars()
	v.Data = json.RawMessage(b.String())

	e, err := Compile(`data.big.exists(x, has(data.nested.missing))`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.Match(v)
	var fe *Error
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "16 MiB of data") {
		t.Errorf("Match = %v, %v; want an *Error about the scan limit", ok, err)
	}

	// Each read of a long string costs its length, which bounds what
	// concatenations can build.
	long := vars()
	long.Data = json.RawMessage(`{"s":"` + strings.Repeat("x", 200_000) + `"}`)
	e, err = Compile(`data.s` + strings.Repeat(` + data.s`, 100) + ` == ""`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err = e.Match(long)
	if !errors.As(err, &fe) || !strings.Contains(fe.Msg, "16 MiB of data") {
		t.Errorf("Match(long concatenation) = %v, %v; want an *Error about the scan limit", ok, err)
	}

	// Reading the members of the data itself in a loop scans it once.
	e, err = Compile(`data.big.all(x, x < 3000.0 && !has(data.missing) && has(data.nested))`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.Match(v); !ok || err != nil {
		t.Errorf("Match(loop over data's members) = %v, %v; want true", ok, err)
	}
}

// The data's members are remembered as they are scanned; objects with more
// members than are remembered still answer right.
func TestManyMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 40 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	b.WriteString(`,"k7":-1}`) // a repeated key: the first one counts
	v := vars()
	v.Data = json.RawMessage(b.String())
	e, err := Compile(`data.k30 == 30 && data.k2 == 2 && data.k39 == 39 && data.k20 == 20 && ` +
		`data.k7 == 7 && !has(data.k40) && data.k0 == 0 && data.k35 == 35 && !has(data.x) && data.k15 == 15`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.Match(v); !ok || err != nil {
		t.Errorf("Match = %v, %v; want true", ok, err)
	}
}

// One Expr serves many goroutines; go test -race checks them. Both kinds
// of expression are tried: one bounded, run as is, and one with a loop,
// run with its cost and turns counted.
func TestConcurrentMatch(t *testing.T) {
	for _, expr := range []string{
		`data.metrics.rmse < 0.3 && data.model_type == "LinearRegression" && "prod" in tags`,
		`data.metrics.all(k, data.metrics[k] < 0.3) && data.model_type.startsWith("Linear")`,
	} {
		e, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				v := vars()
				v.Data = json.RawMessage(`{"metrics":{"rmse":0.1},"model_type":"LinearRegression"}`)
				if g%2 == 1 {
					v.Data = json.RawMessage(`{"metrics":{"rmse":0.5},"model_type":"LinearRegression"}`)
				}
				for range 500 {
					ok, err := e.Match(v)
					if err != nil || ok != (g%2 == 0) {
						t.Errorf("%s: goroutine %d: Match = %v, %v", expr, g, ok, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func BenchmarkMatch(b *testing.B) {
	e, err := Compile(`data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`)
	if err != nil {
		b.Fatal(err)
	}
	v := vars()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := e.Match(v); !ok || err != nil {
			b.Fatalf("Match = %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}

func BenchmarkMatchTags(b *testing.B) {
	e, err := Compile(`"prod" in tags || level_label == "model"`)
	if err != nil {
		b.Fatal(err)
	}
	v := vars()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := e.Match(v); !ok || err != nil {
			b.Fatalf("Match = %v, %v", ok, err)
		}
	}
}

func BenchmarkMatchParallel(b *testing.B) {
	e, err := Compile(`data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := vars()
		for pb.Next() {
			if ok, err := e.Match(v); !ok || err != nil {
				b.Errorf("Match = %v, %v", ok, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}
