package caddymodule

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("webhooks", parseGlobalOption)
	httpcaddyfile.RegisterDirective("webhooks", parseDirective)
	// The handler must see the upstream's response, so it runs before
	// reverse_proxy; a user's own `order` line still takes precedence.
	httpcaddyfile.RegisterDirectiveOrder("webhooks", httpcaddyfile.Before, "reverse_proxy")
}

// parseGlobalOption reads the `webhooks` global option into the app:
//
//	webhooks {
//		storage       <dir> | <backend> { ... }
//		retry         <delay>...
//		timeout       <duration>
//		rate_limit    <n>/<s|m|h>
//		disable_after <n>
//		durability    sync|async
//		allow_private_targets
//		proxy         <url>|off
//		tracing       [on|off]
//		retention     <duration>
//		workers       <n>
//		encryption_key      <key>
//		encryption_key_file <path>
//		subscription <name> {
//			url         <url>
//			events      <event|pattern>...
//			secret      <secret>
//			signature   standard|sha256|hex
//			description <text>
//			site_ids    <id>...
//			rate_limit  <n>/<s|m|h>
//			header      <name> <value>
//			filter      <cel condition>
//			transform   <cel map>
//			ordered
//			auth        basic|bearer|oauth2_client_credentials { … }
//			tls         { client_certificate <file>; client_key <file>; ca <file> }
//		}
//	}
func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "webhooks", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from Caddyfile tokens.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		key := d.Val()
		if seen[key] && key != "subscription" {
			return d.Errf("webhooks option %s given twice", key)
		}
		seen[key] = true
		if err := a.unmarshalOption(d, key); err != nil {
			return err
		}
	}
	return nil
}

// unmarshalOption reads one option of the webhooks block.
func (a *App) unmarshalOption(d *caddyfile.Dispenser, key string) error {
	var err error
	switch key {
	case "storage":
		a.StorageRaw, err = unmarshalStorage(d)
	case "rate_limit":
		err = oneArg(d, &a.RateLimit)
	case "proxy":
		err = oneArg(d, &a.Proxy)
	case "encryption_key":
		err = oneArg(d, &a.EncryptionKey)
	case "encryption_key_file":
		err = oneArg(d, &a.EncryptionKeyFile)
	case "durability":
		if err = oneArg(d, &a.Durability); err == nil && a.Durability != "sync" && a.Durability != "async" {
			err = d.Errf("durability: %q is neither sync nor async", a.Durability)
		}
	case "retry":
		a.Retry, err = unmarshalDurations(d)
	case "timeout":
		err = durationArg(d, &a.Timeout)
	case "retention":
		err = durationArg(d, &a.Retention)
	case "disable_after":
		err = positiveArg(d, &a.DisableAfter)
	case "workers":
		err = positiveArg(d, &a.Workers)
	case "subscription":
		err = a.unmarshalSubscription(d)
	case "tracing":
		a.Tracing, err = onOff(d)
	case "allow_private_targets":
		if d.NextArg() {
			return d.ArgErr()
		}
		a.AllowPrivateTargets = true
	default:
		return d.Errf("unrecognized webhooks option %q", key)
	}
	return err
}

// unmarshalSubscription reads `subscription <name> { ... }`.
func (a *App) unmarshalSubscription(d *caddyfile.Dispenser) error {
	var name string
	if !d.AllArgs(&name) {
		return d.ArgErr()
	}
	sc, err := parseSubscriptionBlock(d)
	if err != nil {
		return err
	}
	if a.Subscriptions == nil {
		a.Subscriptions = map[string]*SubscriptionConfig{}
	}
	if a.Subscriptions[name] != nil {
		return d.Errf("subscription %q declared twice", name)
	}
	a.Subscriptions[name] = sc
	return nil
}

// onOff reads an option that is on without an argument, or has on or off.
func onOff(d *caddyfile.Dispenser) (*bool, error) {
	key := d.Val()
	on := true
	if d.NextArg() {
		switch d.Val() {
		case "on":
		case "off":
			on = false
		default:
			return nil, d.Errf("%s: %q is neither on nor off", key, d.Val())
		}
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	return &on, nil
}

// oneArg reads the option's single argument into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.AllArgs(dst) {
		return d.ArgErr()
	}
	return nil
}

// durationArg reads the option's single argument, a duration.
func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	key := d.Val()
	var s string
	if !d.AllArgs(&s) {
		return d.ArgErr()
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s: %v", key, err)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// positiveArg reads the option's single argument, a positive integer.
func positiveArg(d *caddyfile.Dispenser, dst *int) error {
	key := d.Val()
	var s string
	if !d.AllArgs(&s) {
		return d.ArgErr()
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return d.Errf("%s: %q is not a positive integer", key, s)
	}
	*dst = n
	return nil
}

// unmarshalDurations reads the option's arguments, one or more durations.
func unmarshalDurations(d *caddyfile.Dispenser) ([]caddy.Duration, error) {
	key := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.ArgErr()
	}
	out := make([]caddy.Duration, 0, len(args))
	for _, s := range args {
		dur, err := caddy.ParseDuration(s)
		if err != nil {
			return nil, d.Errf("%s: %v", key, err)
		}
		out = append(out, caddy.Duration(dur))
	}
	return out, nil
}

// parseSubscriptionBlock reads the block of a `subscription` option.
func parseSubscriptionBlock(d *caddyfile.Dispenser) (*SubscriptionConfig, error) {
	sc := new(SubscriptionConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		switch key {
		case "url", "secret", "signature", "description", "rate_limit", "filter", "transform":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.Errf("%s takes one argument (quote it if it has spaces)", key)
			}
			switch key {
			case "filter":
				sc.Filter = v
			case "transform":
				sc.Transform = v
			case "url":
				sc.URL = v
			case "secret":
				sc.Secret = v
			case "signature":
				sc.Signature = v
			case "description":
				sc.Description = v
			case "rate_limit":
				sc.RateLimit = v
			}
		case "events", "site_ids":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			if key == "events" {
				sc.Events = append(sc.Events, args...)
			} else {
				sc.SiteIDs = append(sc.SiteIDs, args...)
			}
		case "ordered":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			sc.Ordered = true
		case "auth", "tls":
			if err := parseCredentials(d, sc); err != nil {
				return nil, err
			}
		case "header":
			var name, value string
			if !d.AllArgs(&name, &value) {
				return nil, d.Errf("header takes a name and a value")
			}
			if sc.Headers == nil {
				sc.Headers = map[string]string{}
			}
			sc.Headers[name] = value
		default:
			return nil, d.Errf("unrecognized subscription option %q", key)
		}
	}
	return sc, nil
}

// parseDirective is what httpcaddyfile.RegisterHandlerDirective does, with
// a look at the matcher token first: Caddy reads an argument starting with
// "/" right after a directive as a path matcher, so `webhooks
// /etc/rules.yaml` would silently mean "no rule file, only for the path
// /etc/rules.yaml".
func parseDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	if h.NextArg() {
		if err := checkMatcherToken(h.Dispenser); err != nil {
			return nil, err
		}
		h.Prev()
	}
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	m := new(Handler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return h.NewRoute(matcherSet, m), nil
}

// checkMatcherToken refuses a path matcher that names a rule file.
func checkMatcherToken(d *caddyfile.Dispenser) error {
	tok := d.Val()
	if !strings.HasPrefix(tok, "/") || !looksLikeRuleFile(tok) {
		return nil
	}
	return d.Errf("webhooks: %q is read as a path matcher, not a rule file "+
		"(Caddy reads an argument starting with / right after a directive as a matcher): "+
		"write `webhooks * %s` or `rules %s` inside the webhooks block "+
		"(to match that request path, use a named matcher: `@name path %s`)",
		tok, tok, tok, tok)
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	webhooks [<matcher>] [<file>...] {
//		rules    <file>...
//		max_body <size>
//		mode     live|shadow      # shadow: events stored, never delivered
//		learn                     # observe the traffic and propose rules (GET /webhooks/learn/rules.yaml)
//		event <name> {
//			description <text>
//			match {
//				method <method>...
//				path   <pattern>
//				status <code|class>...
//			}
//			when    <cel expression>
//			data    <source>          # or a block: data { <field> <source> ... }
//			redact  <path>...
//			site    <source>
//			user_id <source>
//			each    <source>          # or: each <source> { response <source>; by <path> }
//			shadow                    # this rule's events are stored, never delivered
//			order_key <template>      # ordered subscriptions: e.g. order:{path.id} (default: the state key)
//			state {
//				key      <template>   # e.g. order:{path.id}
//				snapshot <source>     # or: snapshot [<source>] { redact <path>... }
//				prefetch GET <path>   # e.g. GET /api/orders/{path.id}
//			}
//		}
//		event { ... }             # no name: keeps state only
//	}
//
// Each rule file's SHA-256 goes into the JSON (rules_sha256), so that a
// reload after a rule file was edited is not skipped as unchanged.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := h.addRuleFiles(d, d.RemainingArgs()); err != nil {
		return err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "rules":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			if err := h.addRuleFiles(d, args); err != nil {
				return err
			}
		case "max_body":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(s)
			if err != nil || n == 0 || n > math.MaxInt64 {
				return d.Errf("max_body: %q is not a size like 1MiB", s)
			}
			h.MaxBody = int64(n)
		case "mode":
			if !d.AllArgs(&h.Mode) {
				return d.ArgErr()
			}
		case "learn":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Learn = true
		case "event":
			spec, err := parseEventBlock(d)
			if err != nil {
				return err
			}
			h.Events = append(h.Events, spec)
		default:
			return d.Errf("unrecognized webhooks subdirective %q", d.Val())
		}
	}
	return nil
}

// addRuleFiles adds rule files and records their digests; a file that
// cannot be read is an error at the line naming it.
func (h *Handler) addRuleFiles(d *caddyfile.Dispenser, names []string) error {
	for _, name := range names {
		sum, err := digestRuleFile(name)
		if err != nil {
			return d.WrapErr(err)
		}
		if h.RulesSHA256 == nil {
			h.RulesSHA256 = map[string]string{}
		}
		h.RulesSHA256[name] = sum
		h.Rules = append(h.Rules, name)
	}
	return nil
}

// parseEventBlock reads one inline rule; its keys are those of the YAML.
func parseEventBlock(d *caddyfile.Dispenser) (rules.Spec, error) {
	var s rules.Spec
	switch args := d.RemainingArgs(); len(args) {
	case 0: // a rule that only keeps state
	case 1:
		s.Name = args[0]
	default:
		return s, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		switch key {
		case "description", "when", "site", "user_id", "order_key":
			var v string
			if !d.AllArgs(&v) {
				return s, d.Errf("%s takes one argument (quote it if it has spaces)", key)
			}
			switch key {
			case "order_key":
				// As in a state key: {path.x} is the rule's own {param}.
				s.OrderKey = strings.ReplaceAll(v, "{http.request.uri.path.", "{path.")
			case "description":
				s.Description = v
			case "when":
				s.When = v
			case "site":
				s.Site = v
			case "user_id":
				s.UserID = v
			}
		case "redact":
			s.Redact = d.RemainingArgs()
			if len(s.Redact) == 0 {
				return s, d.ArgErr()
			}
		case "match":
			if d.NextArg() {
				return s, d.ArgErr()
			}
			for n := d.Nesting(); d.NextBlock(n); {
				switch d.Val() {
				case "method":
					s.Match.Method = d.RemainingArgs()
				case "status":
					s.Match.Status = d.RemainingArgs()
				case "path":
					if !d.AllArgs(&s.Match.Path) {
						return s, d.ArgErr()
					}
				default:
					return s, d.Errf("unrecognized match key %q", d.Val())
				}
			}
		case "data":
			data, err := parseData(d)
			if err != nil {
				return s, err
			}
			s.Data = data
		case "shadow":
			if d.NextArg() {
				return s, d.ArgErr()
			}
			s.Shadow = true
		case "each":
			each, err := parseEach(d)
			if err != nil {
				return s, err
			}
			s.Each = each
		case "state":
			if d.NextArg() {
				return s, d.ArgErr()
			}
			s.State = &rules.StateSpec{}
			for n := d.Nesting(); d.NextBlock(n); {
				k := d.Val()
				args := d.RemainingArgs()
				for i, a := range args {
					// The Caddyfile adapter expands the {path.*}
					// shorthand; in a state template it is the rule's
					// own {param}.
					args[i] = strings.ReplaceAll(a, "{http.request.uri.path.", "{path.")
				}
				switch {
				case k == "prefetch" && len(args) >= 1 && len(args) <= 2:
					s.State.Prefetch = strings.Join(args, " ")
					if err := parsePrefetchSelect(d, s.State); err != nil {
						return s, err
					}
				case k == "key" && len(args) == 1:
					s.State.Key = args[0]
				case k == "snapshot" && len(args) <= 1:
					if err := parseSnapshot(d, s.State, args); err != nil {
						return s, err
					}
				case k == "key" || k == "snapshot" || k == "prefetch":
					return s, d.Errf("state %s: wrong number of arguments", k)
				default:
					return s, d.Errf("unrecognized state key %q", k)
				}
			}
		default:
			return s, d.Errf("unrecognized event key %q", key)
		}
	}
	return s, nil
}

// parseEach reads `each <source>` and its block, `{ response <source>;
// by <path> }`.
func parseEach(d *caddyfile.Dispenser) (*rules.EachSpec, error) {
	e := &rules.EachSpec{}
	if !d.AllArgs(&e.Source) {
		return nil, d.ArgErr()
	}
	for n := d.Nesting(); d.NextBlock(n); {
		var dst *string
		switch d.Val() {
		case "response":
			dst = &e.Response
		case "by":
			dst = &e.By
		default:
			return nil, d.Errf("unrecognized each key %q (it has response and by)", d.Val())
		}
		if *dst != "" {
			return nil, d.Errf("each %s given twice", d.Val())
		}
		if !d.AllArgs(dst) {
			return nil, d.ArgErr()
		}
	}
	return e, nil
}

// parseSnapshot reads `snapshot <source>` and the long form with its own
// redact entries, `snapshot [<source>] { redact <path>... }`.
func parseSnapshot(d *caddyfile.Dispenser, st *rules.StateSpec, args []string) error {
	if len(args) == 1 {
		st.Snapshot = args[0]
	}
	for n := d.Nesting(); d.NextBlock(n); {
		if d.Val() != "redact" {
			return d.Errf("unrecognized state snapshot key %q (it has redact)", d.Val())
		}
		paths := d.RemainingArgs()
		if len(paths) == 0 {
			return d.ArgErr()
		}
		st.SnapshotRedact = append(st.SnapshotRedact, paths...)
	}
	if st.Snapshot == "" && len(st.SnapshotRedact) == 0 {
		return d.Errf("state snapshot: wrong number of arguments")
	}
	return nil
}

// parsePrefetchSelect reads the block of `prefetch GET /path { … }`: one
// `select data` line.
func parsePrefetchSelect(d *caddyfile.Dispenser, st *rules.StateSpec) error {
	for n := d.Nesting(); d.NextBlock(n); {
		if d.Val() != "select" {
			return d.Errf("unrecognized state prefetch key %q (it has select)", d.Val())
		}
		if st.PrefetchSelect != "" {
			return d.Err("state prefetch: select given twice")
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		st.PrefetchSelect = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

// parseData reads `data <source>` or a block of fields, nested blocks
// making nested objects.
func parseData(d *caddyfile.Dispenser) (*rules.Data, error) {
	if d.NextArg() {
		data := &rules.Data{Source: d.Val()}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		return data, nil
	}
	data := &rules.Data{}
	for n := d.Nesting(); d.NextBlock(n); {
		name := d.Val()
		value, err := parseData(d)
		if err != nil {
			return nil, err
		}
		data.Fields = append(data.Fields, rules.DataField{Name: name, Value: *value})
	}
	if len(data.Fields) == 0 {
		return nil, d.Err("data needs a source or a block of fields")
	}
	return data, nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)

// unmarshalStorage reads `storage <dir>` (the embedded Badger store in
// dir: the JSON string form, as configs have always had it) or
// `storage <backend> { ... }` (a module of the webhooks.storage namespace
// with its options in the block).
func unmarshalStorage(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	seg := d.NextSegment() // the name, and its block if any
	name := seg[0].Text
	if len(seg) == 1 {
		return caddyconfig.JSON(name, nil), nil
	}
	mod, err := caddy.GetModule("webhooks.storage." + name)
	if err != nil {
		return nil, d.Errf("storage: %q is no storage backend (%v); `storage <dir>` takes no block", name, err)
	}
	unm, ok := mod.New().(caddyfile.Unmarshaler)
	if !ok {
		return nil, d.Errf("storage %s: the backend cannot be configured in a Caddyfile", name)
	}
	if err := unm.UnmarshalCaddyfile(caddyfile.NewDispenser(seg)); err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(unm, "backend", name, nil), nil
}
