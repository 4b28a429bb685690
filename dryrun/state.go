package dryrun

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// exchangeState is, as in the handler (caddymodule/state.go), what the
// rules of one exchange share: the state keys known from the request, per
// candidate and item, and each key's state before the exchange.
type exchangeState struct {
	keys   [][]string        // per candidate, per item, its early key ("" = none or late)
	before map[string][]byte // key → snapshot before the exchange (nil = none)
}

// before makes the early keys of the candidates and reads their state, or
// where there is none and the rule says how, answers its prefetch from
// the recording: as the handler does before the request goes upstream.
func (r *replay) before(x *Exchange, cands []rules.Candidate) *exchangeState {
	st := &exchangeState{keys: make([][]string, len(cands)), before: map[string][]byte{}}
	early := &rules.Input{Method: x.Method, Path: x.URL.Path, Header: x.Header, Query: x.URL.Query()}
	if anyEarlyKey(cands) {
		// The handler reads the body ahead, within max_body; a larger
		// one streams and the request goes on without early state.
		if int64(len(x.Body)) > r.maxBody {
			for _, c := range cands {
				if c.Rule.StateKeyEarly() {
					r.sum.rule(c.Rule).noteAt(x, noteNoState+"state_body_not_read")
				}
			}
			return st
		}
		early.Body = x.Body
	}
	r.earlyKeys(x, cands, early, st)
	r.readBefore(x, cands, early, st)
	return st
}

func anyEarlyKey(cands []rules.Candidate) bool {
	for _, c := range cands {
		if c.Rule.StateKeyEarly() {
			return true
		}
	}
	return false
}

// earlyKeys makes the keys known from the request, in st.keys.
func (r *replay) earlyKeys(x *Exchange, cands []rules.Candidate, early *rules.Input, st *exchangeState) {
	for i, c := range cands {
		if !c.Rule.StateKeyEarly() {
			continue
		}
		items, err := c.EarlyItems(early)
		if err != nil {
			r.sum.rule(c.Rule).noteAt(x, noteNoState+reasonOf(err))
			continue
		}
		st.keys[i] = make([]string, len(items))
		for j := range items {
			early.SetItem(items[j])
			k, err := c.StateKey(early)
			if err != nil {
				r.sum.rule(c.Rule).noteAt(x, noteNoState+reasonOf(err))
				continue
			}
			st.keys[i][j] = k
		}
		early.SetItem(nil)
	}
}

// readBefore reads the state of each early key before the exchange, and
// answers the prefetch of a key with none; the first rule that would
// prefetch a key gives it to all, as in the handler.
func (r *replay) readBefore(x *Exchange, cands []rules.Candidate, early *rules.Input, st *exchangeState) {
	fetched := map[string]bool{}
	for i, c := range cands {
		if st.keys[i] == nil {
			continue
		}
		items, _ := c.EarlyItems(early) // the items earlyKeys made the keys of
		for j, k := range st.keys[i] {
			if k == "" || fetched[k] {
				continue
			}
			snap, read := st.before[k]
			if !read {
				snap = r.state[k]
				st.before[k] = snap
			}
			if snap != nil {
				continue
			}
			early.SetItem(items[j])
			if _, path, ok, err := c.Prefetch(early); err != nil {
				r.sum.rule(c.Rule).noteAt(x, noteNoState+reasonOf(err))
			} else if ok {
				fetched[k] = true
				st.before[k] = r.prefetch(x, c, path)
			}
		}
		early.SetItem(nil)
	}
}

// prefetch answers a rule's prefetch (path escaped, with its query) from
// the recording: the latest earlier 2xx GET of that path and query, its
// JSON body through the rule's select. It returns nil, noted, when there
// is none or it is not usable, as the handler's prefetch gives previous
// null when the app's answer is not.
func (r *replay) prefetch(x *Exchange, c rules.Candidate, path string) []byte {
	s := r.sum.rule(c.Rule)
	escaped, query, _ := strings.Cut(path, "?")
	p, err := url.PathUnescape(escaped)
	if err != nil {
		s.noteAt(x, notePrefetch+string(rules.ReasonPrefetchBadPath))
		return nil
	}
	got := r.gets[getKey(p, query)]
	switch {
	case got == nil:
		s.noteAt(x, notePrefetchNotRecorded)
		return nil
	case got.RespBodyMissing:
		s.noteAt(x, notePrefetchNoBody)
		return nil
	case int64(len(got.RespBody)) > r.maxBody:
		s.noteAt(x, notePrefetch+string(rules.ReasonPrefetchTooLarge))
		return nil
	case !json.Valid(got.RespBody):
		s.noteAt(x, notePrefetch+string(rules.ReasonPrefetchNotJSON))
		return nil
	}
	prev, ok := c.SelectPrefetched(got.RespBody)
	if !ok {
		s.noteAt(x, notePrefetch+string(rules.ReasonPrefetchSelectMissing))
		return nil
	}
	s.noteAt(x, notePrefetchRecorded)
	return prev
}

// previousFor returns the key of candidate i (at its item j) and the state
// it sees as previous, as the handler's: its early key's state before the
// exchange, or for a key read from the response, the state remembered
// under it now (nothing of this exchange is written yet). An error is a
// key that could not be made: the rule runs without state.
func (r *replay) previousFor(st *exchangeState, i, j int, c rules.Candidate, in *rules.Input) (key string, prev []byte, err error) {
	if !c.Rule.HasState() {
		return "", nil, nil
	}
	if c.Rule.StateKeyEarly() {
		if j < len(st.keys[i]) && st.keys[i][j] != "" {
			return st.keys[i][j], st.before[st.keys[i][j]], nil
		}
		return "", nil, nil // noted by earlyKeys
	}
	key, err = c.StateKey(in)
	if err != nil {
		return "", nil, err
	}
	prev, read := st.before[key]
	if !read {
		prev = r.state[key]
		st.before[key] = prev
	}
	return key, prev, nil
}
