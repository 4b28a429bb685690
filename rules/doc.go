// Package rules reads, checks and runs the rules that turn proxied HTTP
// traffic into webhook events. It is pure: no file or network access.
//
// A rule file is YAML with one top-level key, events, a list of rules:
//
//	events:
//	  - name: order.created            # letters, digits, _ and - in dot-separated parts
//	    description: A new order was placed
//	    match:
//	      method: POST                 # GET HEAD POST PUT PATCH DELETE OPTIONS, or a list; none = any
//	      path: /api/orders/{id}/*     # literal segments, {param} segments, a trailing /*
//	      status: 201                  # codes and classes (2xx), one or a list; none = 2xx
//	    when: response.body.total > 100  # optional CEL condition
//	    data:                          # a source, or an ordered mapping of sources (nesting allowed)
//	      orderId: response.body._id
//	      items: response.body.items.#.sku
//	    redact: [password, "*.token"]  # keys removed from data; * = any number of levels
//	    site: response.body.site       # optional: the value subscriptions filter on
//	    user_id: request.headers.X-User-Id  # optional
//	    each: response.body.data       # optional: evaluate the rule once per element (item);
//	                                   # or {source: request.body.keys, response: response.body.data, by: id}
//	    state:                         # optional: remember the resource
//	      key: "order:{path.id}"       # template over the sources
//	      snapshot: response.body      # the default; none forgets the state;
//	                                   # or {source: response.body, redact: [ssn]}
//	      prefetch: GET /api/orders/{path.id}  # when nothing is remembered;
//	                                   # or {request: GET …, select: data}
//
// Sources: request.method, request.path, request.headers.<Name>,
// request.query.<name>, request.body[.<gjson path>], response.status,
// response.headers.<Name>, response.body[.<gjson path>], path.<param>,
// previous[.<gjson path>] and, in a rule with each, item[.<gjson path>] and
// response.item[.<gjson path>] (the item's element of each.response). Bodies are JSON; a request body sent as
// application/x-www-form-urlencoded is read as an object of strings (arrays
// for repeated keys). A missing value is null.
//
// A path pattern matches whole segments, case-sensitively: {id} captures
// one non-empty segment and a final /* matches the rest (/api/* matches
// /api/ and /api/x/y, not /api). A trailing slash must match exactly.
//
// The when expression is CEL over the variables request (method, path,
// headers, query, body), response (status, headers, body), path (the
// {params}) and previous. Reading a missing field, or a field of null,
// gives null rather than an error; has() tells whether a field is there.
// JSON numbers are doubles and compare with integer literals as expected.
// An expression that fails at run time skips the event ("when_error"), as
// does one past WhenCostLimit or interrupted by the context given to
// Candidate.EvalContext; one whose cost, estimated at load for 1 MiB
// values, is over WhenEstimateLimit is refused. A rule that reads previous
// must have a state.
//
// A snapshot is stored without what the rule's redact removes, nor what
// its own redact (the long form of snapshot) removes. A rule with state
// and no name only keeps state. Candidate.StateKey,
// Prefetch and Snapshot give the caller what to lock, fetch and write;
// Input.SetPrevious gives each rule the state from before the request.
//
// A rule with each is evaluated per item: Candidate.Items gives them (at
// most MaxEachItems), Input.SetItem makes one current; ItemValues gives
// the items known from the request alone, for the early state keys.
//
// Use: Parse each file, Compile all the specs once into a Set, ask
// Set.Matches for every request (it does not allocate) and Set.Candidates
// for the matching ones, then Candidate.Eval with the Input of the
// exchange once the response is known.
package rules
