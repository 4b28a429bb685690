package rules

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/caddy-webhooks/caddy-webhooks/internal/celerr"
)

// Bounds on the work of a `when` expression. A comprehension over a body
// (items.all(x, items.all(y, ...))) could otherwise hold the response and
// a core for as long as the body is large.
const (
	// WhenCostLimit is the CEL cost (roughly, the operations) one
	// evaluation may spend; past it the event is skipped (when_error).
	// A predicate over each of 100,000 items fits.
	WhenCostLimit = 1_000_000
	// WhenEstimateLimit bounds the static cost estimate made at load time
	// for request and response values of up to 1 MiB (the default
	// max_body): a cost that grows with the body fits, one that grows
	// with its square (a comprehension over a body inside another over a
	// body) does not.
	WhenEstimateLimit = 10_000_000_000
	// whenEstimateSize is the size (items of a list or map, characters of
	// a string) assumed for any value read from the exchange.
	whenEstimateSize = 1 << 20
	// whenInterruptEvery is how many comprehension iterations run between
	// two looks at the context.
	whenInterruptEvery = 100
)

// errWhenCost marks an evaluation stopped by WhenCostLimit.
var errWhenCost = fmt.Errorf("over the cost limit of %d", WhenCostLimit)

// The variables a `when` expression sees, and the fields each one has
// (path's fields are the rule's {params}, checked separately).
var whenFields = map[string][]string{
	"request":  {"method", "path", "headers", "query", "body"},
	"response": {"status", "headers", "body", "item"},
}

// celEnv is built once: building it is costly, and it is safe to share.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	obj := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("request", obj),
		cel.Variable("response", obj),
		cel.Variable("path", obj),
		cel.Variable("previous", cel.DynType),
		cel.Variable("item", cel.DynType),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	)
})

// whenProg is a compiled `when` expression.
type whenProg struct {
	prog      cel.Program
	needsReq  bool // reads request.body
	needsResp bool // reads response.body
	needsPrev bool // reads previous
	needsItem bool // reads item
	respItem  bool // reads response.item, or response as a whole
	strict    bool // the null-safe rewrite failed: missing fields are errors
}

// compileWhen type-checks expr, checks its field names against the
// variables (and path's against pp's {params}), then makes field access
// null-safe (see nullSafe) and plans the program.
func compileWhen(expr string, pp *pathPattern) (w *whenProg, err error) {
	defer func() {
		// cel-go is third-party code fed with user text: a panic there
		// must fail the config, not the server.
		if r := recover(); r != nil {
			w, err = nil, fmt.Errorf("internal CEL error: %v", r)
		}
	}()
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, celerr.Format(expr, iss)
	}
	if k := checked.OutputType().Kind(); k != types.BoolKind && k != types.DynKind {
		return nil, fmt.Errorf("must be a boolean expression, not %s", checked.OutputType())
	}
	w = &whenProg{}
	if err := w.analyse(checked.NativeRep(), pp); err != nil {
		return nil, err
	}
	if err := checkWhenCost(env, checked); err != nil {
		return nil, err
	}
	// Should the rewrite fail, keep the strict form: a missing field is
	// then an evaluation error, which still counts as false.
	prepared := checked
	w.strict = true
	if opt, err := cel.NewStaticOptimizer(nullSafe{}); err == nil {
		if rewritten, iss := opt.Optimize(env, checked); iss.Err() == nil {
			prepared, w.strict = rewritten, false
		}
	}
	w.prog, err = env.Program(prepared,
		cel.CostLimit(WhenCostLimit),
		cel.InterruptCheckFrequency(whenInterruptEvery))
	if err != nil {
		return nil, fmt.Errorf("planning CEL program: %w", err)
	}
	return w, nil
}

// checkWhenCost refuses an expression whose estimated cost, for values of
// whenEstimateSize, is over WhenEstimateLimit.
func checkWhenCost(env *cel.Env, checked *cel.Ast) error {
	est, err := env.EstimateCost(checked, exchangeSizes{})
	if err != nil {
		return fmt.Errorf("estimating its cost: %w", err)
	}
	if est.Max > WhenEstimateLimit {
		return fmt.Errorf("too costly: its cost is estimated up to %d for 1 MiB bodies, over %d; "+
			"a comprehension over a body inside another (items.all(x, items.all(y, ...))) grows with the square of the body; "+
			"iterate over nested data instead (items.exists(i, i.tags.exists(t, ...)))",
			est.Max, uint64(WhenEstimateLimit))
	}
	return nil
}

// exchangeSizes sizes the values of the exchange for the cost estimate:
// each at most whenEstimateSize, and an element of a collection being
// iterated at most 1. The elements of a collection together are no larger
// than it, so nested data (items.exists(i, i.tags.exists(...))) costs as
// the body, while a comprehension over the whole body inside another costs
// its square.
type exchangeSizes struct{}

// EstimateSize implements cost.CostEstimator.
func (exchangeSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	for _, p := range n.Path() {
		switch p {
		case "@items", "@values", "@keys", "@indices":
			return &cost.SizeEstimate{Min: 0, Max: 1}
		}
	}
	return &cost.SizeEstimate{Min: 0, Max: whenEstimateSize}
}

// EstimateCallCost implements cost.CostEstimator: CEL's own estimates.
func (exchangeSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// analyse checks request.X, response.X and path.X names and records
// whether the bodies are read. Any use of request or response other than
// selecting a non-body field counts as reading the body, to be safe.
func (w *whenProg) analyse(a *ast.AST, pp *pathPattern) error {
	uses := map[string]int{}
	safe := map[string]int{}
	var err error
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			uses[e.AsIdent()]++
		case ast.SelectKind:
			sel := e.AsSelect()
			op := sel.Operand()
			if op.Kind() != ast.IdentKind {
				return
			}
			v, field := op.AsIdent(), sel.FieldName()
			switch v {
			case "request", "response":
				known := false
				for _, f := range whenFields[v] {
					known = known || f == field
				}
				if !known && err == nil {
					err = fmt.Errorf("%s has no field %q (it has %s)", v, field, strings.Join(whenFields[v], ", "))
				}
				if field != "body" {
					safe[v]++
				}
				if v == "response" && field == "item" {
					w.respItem = true
				}
			case "path":
				if (pp == nil || !pp.hasParam(field)) && err == nil {
					err = fmt.Errorf("path.%s: the path pattern has no {%s}", field, field)
				}
			}
		}
	}))
	w.needsReq = uses["request"] > safe["request"]
	w.needsResp = uses["response"] > safe["response"]
	w.needsPrev = uses["previous"] > 0
	w.needsItem = uses["item"] > 0
	w.respItem = w.respItem || w.needsResp
	return err
}

// nullSafe rewrites every dynamically typed field selection x.f into
// x.?f.orValue(null), and every index x[i] into x[?i].orValue(null), so a
// missing field, or a field of null, reads as null instead of failing.
// has() tests are left alone: they already answer false.
type nullSafe struct{}

// Optimize implements cel.ASTOptimizer.
func (nullSafe) Optimize(ctx *cel.OptimizerContext, a *ast.AST) *ast.AST {
	var targets []ast.Expr
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if a.GetType(e.ID()).Kind() != types.DynKind {
			return // typed values (literals) keep strict access
		}
		switch e.Kind() {
		case ast.SelectKind:
			if !e.AsSelect().IsTestOnly() {
				targets = append(targets, e)
			}
		case ast.CallKind:
			c := e.AsCall()
			if c.FunctionName() == operators.Index && !c.IsMemberFunction() && len(c.Args()) == 2 {
				targets = append(targets, e)
			}
		}
	}))
	// Post order: an inner access is rewritten in place before the one
	// around it, which then picks up the rewritten node as its operand.
	for _, e := range targets {
		var opt ast.Expr
		if e.Kind() == ast.SelectKind {
			sel := e.AsSelect()
			opt = ctx.NewCall(operators.OptSelect, sel.Operand(), ctx.NewLiteral(types.String(sel.FieldName())))
		} else {
			args := e.AsCall().Args()
			opt = ctx.NewCall(operators.OptIndex, args[0], args[1])
		}
		// dyn(null), not null: a bare null would let the checker type the
		// result of x[?i].orValue(null) as null_type.
		null := ctx.NewCall(overloads.TypeConvertDyn, ctx.NewLiteral(types.NullValue))
		ctx.UpdateExpr(e, ctx.NewMemberCall("orValue", opt, null))
	}
	return a
}

// eval runs the expression. The caller checks the bodies it needs first,
// to report why one is unavailable as that body's skip reason.
func (w *whenProg) eval(ctx context.Context, in *Input, params map[string]string) (bool, error) {
	req := map[string]any{
		"method":  in.Method,
		"path":    in.Path,
		"headers": in.celHeaders(&in.celReqHeaders, in.Header),
		"query":   in.celQueryMap(),
	}
	resp := map[string]any{
		"status":  int64(in.Status),
		"headers": in.celHeaders(&in.celRespHeaders, in.RespHeader),
	}
	if w.needsReq {
		if _, err := in.requestBody(); err != nil {
			return false, err
		}
		v, err := in.req.decode()
		if err != nil {
			return false, err
		}
		req["body"] = v
	}
	if w.needsResp {
		if _, err := in.responseBody(); err != nil {
			return false, err
		}
		v, err := in.resp.decode()
		if err != nil {
			return false, err
		}
		resp["body"] = v
	}
	var prev any
	if w.needsPrev {
		in.previous()
		v, err := in.prev.decode()
		if err != nil {
			return false, err
		}
		prev = v
	}
	if params == nil {
		params = map[string]string{}
	}
	vars := map[string]any{
		"request":  req,
		"response": resp,
		"path":     params,
		"previous": prev,
	}
	if err := w.addItem(in, vars, resp); err != nil {
		return false, err
	}
	out, _, err := w.prog.ContextEval(ctx, vars)
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return false, fmt.Errorf("%w: %w", errWhenCost, err)
	}
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("result is %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// addItem gives the expression the item of a rule with each, and its
// element of the answer as response.item, when it reads them.
func (w *whenProg) addItem(in *Input, vars, resp map[string]any) error {
	if !in.hasItem {
		return nil
	}
	if w.needsItem {
		v, err := in.itemDoc(false).decode()
		if err != nil {
			return err
		}
		vars["item"] = v
	}
	if w.respItem {
		v, err := in.itemDoc(true).decode()
		if err != nil {
			return err
		}
		resp["item"] = v
	}
	return nil
}

// celHeaders builds (once per Input) the CEL map of first header values.
func (in *Input) celHeaders(cache *any, h http.Header) any {
	if *cache == nil {
		m := make(map[string]string, len(h))
		for k, v := range h {
			if len(v) > 0 {
				m[textproto.CanonicalMIMEHeaderKey(k)] = v[0]
			}
		}
		*cache = headerMap{types.NewStringStringMap(types.DefaultTypeAdapter, m)}
	}
	return *cache
}

func (in *Input) celQueryMap() any {
	if in.celQuery == nil {
		in.celQuery = firstValues(in.Query)
	}
	return in.celQuery
}

// headerMap is a CEL map of header values whose lookups canonicalise the
// name, so request.headers["content-type"] finds Content-Type.
type headerMap struct{ traits.Mapper }

func canonKey(k ref.Val) ref.Val {
	if s, ok := k.(types.String); ok {
		return types.String(textproto.CanonicalMIMEHeaderKey(string(s)))
	}
	return k
}

// Find implements traits.Mapper.
func (m headerMap) Find(k ref.Val) (ref.Val, bool) { return m.Mapper.Find(canonKey(k)) }

// Get implements traits.Indexer.
func (m headerMap) Get(k ref.Val) ref.Val { return m.Mapper.Get(canonKey(k)) }

// Contains implements traits.Container.
func (m headerMap) Contains(k ref.Val) ref.Val { return m.Mapper.Contains(canonKey(k)) }
