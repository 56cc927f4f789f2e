package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

const (
	// maxLen is the longest expression Compile accepts, in bytes.
	maxLen = 4096
	// costLimit bounds the work of one Match, in CEL's cost units (about
	// one per operation; more for operations on long strings and lists).
	costLimit = 100_000
	// maxTurns bounds the turns of all the loops (all, exists, map...) of
	// one Match. CEL's cost tracker counts no cost for a turn that does
	// nothing (data.list.filter(x, false)), and itself takes time that
	// grows with the square of the turns taken: 5,000 turns, about 40ms.
	maxTurns = 5000
	// scanLimit bounds the bytes of data one Match may scan.
	scanLimit = 16 << 20
	// maxTags and maxTagLen are the limits arbor's commands set on tags.
	// The checker's cost estimate relies on them.
	maxTags, maxTagLen = 50, 100
)

// Vars are what an expression sees of one artifact.
type Vars struct {
	Data       json.RawMessage // the artifact's data: a JSON object (without its "content")
	Tags       []string        // at most 50, of at most 100 bytes, as arbor's commands allow
	Level      int
	LevelLabel string
	Hierarchy  string
	ParentID   string // "" for a root: the variable parent_id is then null
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Expr is a compiled filter, safe for concurrent use.
type Expr struct {
	prog  cel.Program
	loops bool // counts the turns of its loops
}

// Error is a filter that does not compile, or one that ran over its cost
// limit. Msg is written for the user who wrote the filter.
type Error struct{ Msg string }

// Error returns Msg, prefixed with "filter: " for logs.
func (e *Error) Error() string { return "filter: " + e.Msg }

// env declares the variables; it is built once, as it takes a while, and
// is safe for concurrent use.
var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("data", cel.DynType),
		cel.Variable("tags", cel.ListType(cel.StringType)),
		cel.Variable("level", cel.IntType),
		cel.Variable("level_label", cel.StringType),
		cel.Variable("hierarchy", cel.StringType),
		cel.Variable("parent_id", cel.DynType),
		cel.Variable("created_at", cel.TimestampType),
		cel.Variable("updated_at", cel.TimestampType),
		// JSON numbers are doubles: data.epochs > 10 must not need 10.0.
		cel.CrossTypeNumericComparisons(true),
	)
})

// Compile parses and type-checks src. Its error, an *Error, is a message a
// user can act on: a syntax or type error with its position, an expression
// that is not a boolean, one too long or too costly to run.
func Compile(src string) (*Expr, error) {
	if len(src) > maxLen {
		return nil, &Error{Msg: fmt.Sprintf("expression is %d bytes long; the limit is %d", len(src), maxLen)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Msg: "expression is empty"}
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("filter: build CEL environment: %w", err)
	}
	ast, iss := e.Compile(src)
	if iss.Err() != nil {
		return nil, &Error{Msg: issues(iss)}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, &Error{Msg: fmt.Sprintf("must be a boolean expression, not %s (compare it: data.flag == true)", t)}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	loops := false
	est, err := e.EstimateCost(ast, estimator{})
	switch {
	case err == nil && est.Min > costLimit:
		return nil, &Error{Msg: fmt.Sprintf("expression costs at least %d to run; the limit is %d", est.Min, costLimit)}
	case err != nil || est.Max > costLimit:
		// The checker knows no bound on the size of data (or tags), so
		// loops over it, concatenations and searches in it are
		// unbounded: track the cost as it runs. Tracking takes about as
		// long as the evaluation itself, so an expression whose cost is
		// bounded, such as data.a < 1 && data.b == "x", goes without.
		opts = append(opts, cel.CostLimit(costLimit))
		if loops = hasLoop(ast); loops {
			opts = append(opts, cel.InterruptCheckFrequency(maxTurns))
		}
	}
	prog, err := e.Program(ast, opts...)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	return &Expr{prog: prog, loops: loops}, nil
}

// hasLoop reports whether a holds a comprehension.
func hasLoop(a *cel.Ast) bool {
	found := false
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		found = found || e.Kind() == celast.ComprehensionKind
	}))
	return found
}

// interrupted is a context done from the start. CEL checks a context after
// every maxTurns turns of loops; with this one, the first check stops the
// evaluation.
var interrupted = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// issues formats CEL's errors on one line each, with 1-based positions.
func issues(iss *cel.Issues) string {
	var b strings.Builder
	for i, e := range iss.Errors() {
		if i > 0 {
			b.WriteString("; ")
		}
		msg := e.Message
		if loc := e.Location; loc != nil && loc.Line() > 0 {
			fmt.Fprintf(&b, "line %d, column %d: ", loc.Line(), loc.Column()+1)
		}
		b.WriteString(msg)
	}
	return b.String()
}

// Match reports whether v matches. It returns an *Error only when the
// evaluation runs over one of its limits: CEL's cost, the turns of its
// loops, or the bytes of data it reads. Any other evaluation error (a
// missing field, a type mismatch on data) is no match.
func (e *Expr) Match(v *Vars) (bool, error) {
	act := activations.Get().(*activation)
	act.reset(v)
	var out ref.Val
	var err error
	turns := false
	if e.loops {
		out, turns, err = e.evalCountingTurns(act)
	} else {
		out, _, err = e.prog.Eval(act)
	}
	scanned := act.sc.over
	act.reset(nil)
	activations.Put(act)
	switch {
	case turns:
		return false, &Error{Msg: fmt.Sprintf("expression ran over its limit of %d turns of loops", maxTurns)}
	case scanned:
		return false, &Error{Msg: fmt.Sprintf("expression ran over its limit of %d MiB of data read", scanLimit>>20)}
	case err != nil:
		// Declared here, as errors.As makes it escape to the heap.
		var cancel interpreter.EvalCancelledError
		if errors.As(err, &cancel) && cancel.Cause == interpreter.CostLimitExceeded {
			return false, &Error{Msg: fmt.Sprintf("expression ran over its cost limit of %d", costLimit)}
		}
		return false, nil
	}
	return out == types.True, nil
}

// evalCountingTurns evaluates with CEL checking the context interrupted
// every maxTurns turns of loops, and reports whether the loops took that
// many: even if the result did not depend on them (loop || true), and
// also at maxTurns-1, as asking counts one.
func (e *Expr) evalCountingTurns(act *activation) (ref.Val, bool, error) {
	frame, err := interpreter.NewExecutionFrame(act)
	if err != nil {
		return nil, false, err
	}
	defer frame.Close()
	if err := frame.SetContext(interrupted, maxTurns); err != nil {
		return nil, false, err
	}
	out, _, err := e.prog.Eval(frame)
	return out, frame.CheckInterrupt(), err
}

// activations saves allocating and clearing an activation per Match. No
// value made from one outlives the Match: the result is a bool.
var activations = sync.Pool{New: func() any { return new(activation) }}

// activation gives the interpreter the variables of one artifact, made
// when the expression first reads them.
type activation struct {
	v    *Vars
	sc   scan
	data ref.Val
	root object
	seen seen
}

// reset readies a for v. It leaves the members seen in place, of which
// only the first seen.n count, to save clearing them.
func (a *activation) reset(v *Vars) {
	a.v = v
	a.sc.reset()
	a.data = nil
	a.root = object{}
	a.seen.m, a.seen.n, a.seen.overflow = members{}, 0, false
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	v := a.v
	switch name {
	case "data":
		if a.data == nil {
			a.data = a.dataValue()
		}
		return a.data, true
	case "tags":
		return types.NewStringList(types.DefaultTypeAdapter, v.Tags), true
	case "level":
		return types.Int(v.Level), true
	case "level_label":
		return types.String(v.LevelLabel), true
	case "hierarchy":
		return types.String(v.Hierarchy), true
	case "parent_id":
		if v.ParentID == "" {
			return types.NullValue, true
		}
		return types.String(v.ParentID), true
	case "created_at":
		return types.Timestamp{Time: v.CreatedAt}, true
	case "updated_at":
		return types.Timestamp{Time: v.UpdatedAt}, true
	}
	return nil, false
}

// dataValue is data: the root object, whose members are remembered as they
// are scanned.
func (a *activation) dataValue() ref.Val {
	raw := trimSpace(a.v.Data)
	switch {
	case len(raw) == 0:
		raw = []byte("{}")
	case raw[0] != '{' || len(raw) > math.MaxInt32:
		return value(raw, &a.sc)
	}
	a.root = object{raw: raw, sc: &a.sc, seen: &a.seen}
	a.seen.m.start(raw)
	return &a.root
}

// Parent implements interpreter.Activation: there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

// estimator tells the checker how many tags an artifact has at most, as
// arbor's commands allow, and leaves the rest to its defaults.
type estimator struct{}

func (estimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	switch p := n.Path(); {
	case len(p) == 1 && p[0] == "tags":
		return &checker.SizeEstimate{Min: 0, Max: maxTags}
	case len(p) == 2 && p[0] == "tags" && p[1] == "@items":
		return &checker.SizeEstimate{Min: 1, Max: maxTagLen}
	}
	return nil
}

func (estimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// trimSpace returns b without white space around it.
func trimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\n' || b[j-1] == '\r') {
		j--
	}
	return b[i:j]
}
