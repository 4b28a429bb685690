// Package payload runs a subscription's filter and transformation: CEL
// expressions over an event's envelope, with the variables event (its
// name), data, site and user_id. A filter is a boolean: the subscription
// gets the events it is true for. A transformation builds the data the
// subscription receives, usually a map literal such as
// {"order": data.orderId, "amount": data.total}. Both are checked when the
// subscription is saved (Check), bounded in cost (CostLimit), and compiled
// once per expression (a small cache), so that running one for each event
// in the fan-out costs microseconds. It is pure: no I/O.
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/caddy-webhooks/caddy-webhooks/internal/celerr"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Bounds of an expression.
const (
	// CostLimit is the CEL cost one evaluation may spend; past it the
	// filter is false, the transformation fails.
	CostLimit = 100_000
	// MaxLength bounds an expression's text.
	MaxLength = 4096
	// cacheSize bounds the compiled expressions kept.
	cacheSize = 1024
)

// Kind is what an expression is for.
type Kind int

const (
	Filter Kind = iota
	Transform
)

func (k Kind) String() string {
	if k == Filter {
		return "filter"
	}
	return "transform"
}

var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("event", cel.StringType),
		cel.Variable("data", cel.DynType),
		cel.Variable("site", cel.StringType),
		cel.Variable("user_id", cel.DynType),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	)
})

// program is a compiled expression, or why it does not compile.
type program struct {
	prg cel.Program
	err error
}

var (
	mu    sync.Mutex
	cache = map[string]*program{}
)

// compiled returns the program of expr for kind, compiling it once.
func compiled(kind Kind, expr string) (cel.Program, error) {
	key := kind.String() + "\x00" + expr
	mu.Lock()
	p, ok := cache[key]
	mu.Unlock()
	if ok {
		return p.prg, p.err
	}
	p = &program{}
	p.prg, p.err = compile(kind, expr)
	mu.Lock()
	if len(cache) >= cacheSize {
		clear(cache) // edits of many subscriptions: start afresh rather than grow
	}
	cache[key] = p
	mu.Unlock()
	return p.prg, p.err
}

func compile(kind Kind, expr string) (prg cel.Program, err error) {
	defer func() {
		// cel-go is fed with user text: a panic there is a refused
		// expression, not a crashed server.
		if r := recover(); r != nil {
			prg, err = nil, fmt.Errorf("internal CEL error: %v", r)
		}
	}()
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty expression")
	}
	if len(expr) > MaxLength {
		return nil, fmt.Errorf("at most %d characters", MaxLength)
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, celerr.Format(expr, iss)
	}
	switch out := ast.OutputType(); {
	case kind == Filter && out != cel.BoolType && out != cel.DynType:
		return nil, fmt.Errorf("a filter must be a boolean expression, not %s", out)
	case kind == Transform && out != cel.DynType && out.Kind() != types.MapKind:
		return nil, fmt.Errorf("a transformation must build a map, such as {\"order\": data.orderId}, not %s", out)
	}
	return e.Program(ast, cel.CostLimit(CostLimit))
}

// Check says what is wrong with expr as a kind, or nil.
func Check(kind Kind, expr string) error {
	_, err := compiled(kind, expr)
	return err
}

// vars are an event's envelope as the expressions see it.
func vars(ev *webhook.Event) (map[string]any, error) {
	var data, user any
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return nil, fmt.Errorf("decoding data: %w", err)
		}
	}
	if len(ev.UserID) > 0 {
		if err := json.Unmarshal(ev.UserID, &user); err != nil {
			return nil, fmt.Errorf("decoding user_id: %w", err)
		}
	}
	return map[string]any{"event": ev.Name, "data": data, "site": ev.Site, "user_id": user}, nil
}

// Envelope is an event as filters see it, decoded once for all the
// subscriptions of a fan-out (at the first filter that needs it).
type Envelope struct {
	ev   *webhook.Event
	vars map[string]any
	err  error
}

// NewEnvelope returns ev's envelope; nothing is decoded yet.
func NewEnvelope(ev *webhook.Event) *Envelope { return &Envelope{ev: ev} }

// Receives is the package's Receives for the envelope's event.
func (e *Envelope) Receives(sub *webhook.Subscription) bool {
	if !sub.Receives(e.ev) {
		return false
	}
	if sub.Filter == "" {
		return true
	}
	ok, err := e.matches(sub.Filter)
	return err == nil && ok
}

// matches runs a filter on the envelope's event. An expression that fails
// (a field the event lacks, past the cost limit) is an error: the caller
// keeps the event from the subscription.
func (e *Envelope) matches(filter string) (bool, error) {
	prg, err := compiled(Filter, filter)
	if err != nil {
		return false, err
	}
	if e.vars == nil && e.err == nil {
		e.vars, e.err = vars(e.ev)
	}
	if e.err != nil {
		return false, e.err
	}
	out, _, err := prg.Eval(e.vars)
	if err != nil {
		return false, fmt.Errorf("filter: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("filter: result is %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// Receives reports whether ev goes to sub: sub.Receives (name, site, not
// shadow), then its filter, if any; a filter that fails keeps the event
// out.
func Receives(sub *webhook.Subscription, ev *webhook.Event) bool {
	return NewEnvelope(ev).Receives(sub)
}

// Apply runs a transformation on ev and returns the data it builds, as
// JSON.
func Apply(transform string, ev *webhook.Event) (json.RawMessage, error) {
	prg, err := compiled(Transform, transform)
	if err != nil {
		return nil, err
	}
	in, err := vars(ev)
	if err != nil {
		return nil, err
	}
	out, _, err := prg.Eval(in)
	if err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	if _, ok := out.(traits.Mapper); !ok {
		return nil, fmt.Errorf("transform: it built %s, not a map", out.Type().TypeName())
	}
	v, err := out.ConvertToNative(reflect.TypeFor[*structpb.Value]())
	if err != nil {
		return nil, fmt.Errorf("transform: its result is not JSON: %w", err)
	}
	b, err := protojson.Marshal(v.(*structpb.Value))
	if err != nil {
		return nil, fmt.Errorf("transform: encoding its result: %w", err)
	}
	return compact(b), nil
}

// compact removes protojson's (deliberately unstable) spacing.
func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// CheckField checks a subscription field's expression: "filter" or
// "transform" (webhook.Checks.Expression).
func CheckField(field, expr string) error {
	kind := Filter
	if field == "transform" {
		kind = Transform
	}
	return Check(kind, expr)
}
