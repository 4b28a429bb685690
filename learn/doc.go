// Package learn watches an app's traffic and proposes a rule file for it:
// the model behind caddy-webhooks' learn mode. It is pure: no network, no
// files, no Caddy. The handler gives each exchange it sees (sampled above
// a rate) to Model.Observe; Model.Report says what was observed and
// Model.Rules writes the proposal, YAML that rules.Parse and
// rules.Compile load as it is.
//
// # What the model keeps
//
// Route templates. A path's id-like segments become {params}: integers,
// UUIDs, ULIDs, Mongo ObjectIds and other hex strings of 16 digits or
// more, and the other ids real APIs put in paths (isIDSegment: Stripe-like
// prefixed ids, random tokens, mostly-digit codes such as order numbers
// and dates, email addresses, segments over 64 bytes). The first id of a
// path is {id}, the ones nested under it {id2}, {id3}… counted from the
// left, so that a route and its sub-routes (/orders/{id},
// /orders/{id}/status) name the same id alike. Per method and template:
// requests, 2xx statuses with their counts, other statuses by class.
//
// Shapes. For 2xx exchanges, the field paths of the request and response
// bodies (customer.email, items[].sku) with their JSON types, never their
// values; the top-level kind (object, array); the envelope when the answer
// wraps the resource ({"data": {...}}, {"result": ...} with only metadata
// beside it).
//
// Resources. A document whose own id (id, _id, uuid…, or <singular>Id) is
// the path's last id is a version of the resource of the route up to that
// id (/api/orders/{id}); a document in the answer to a write on a
// collection route (/api/orders) is one of the collection's (a batch
// answers several). Per resource id the model keeps the last version (a
// hash per top-level field), so it sees which fields change on the same
// resource: a string field with a few short values that changes is
// state-like (a status), a field named like updated_at that moves when
// other fields change, and stays when a write changed nothing, is the
// last-modified field. Collections are named by their path segment,
// singularised (people → person).
//
// Secrets. Field names that say password, token, secret, api key, private
// key, credential, hash… are redacted from every proposed event and
// snapshot.
//
// # Bounds
//
// Memory and CPU are bounded by Options (defaults in brackets): at most
// MaxTemplates route templates [5000], past which requests on new ones are
// counted as dropped; 8 methods each; per route at most MaxFields field
// paths per body side [200], MaxTotalFields over all routes [100,000,
// some 10 MB], 8 names per id statistic and 64 changed-field names. Paths longer
// than MaxPathBytes [2048] or with more than MaxSegments segments [32] are
// not templated. A body over MaxBodyBytes [1 MiB], nested deeper than 128,
// or not valid JSON is not read (counted by reason); a body read is
// walked to MaxDepth levels [6], MaxArrayItems elements per array [16] and
// 10,000 values at most, so one Observe costs a few passes over at most
// MaxBodyBytes per body. At most MaxResources resources are tracked [64],
// each with the last version of at most MaxTrackedIDs ids [256, oldest
// forgotten first], at most MaxFields top-level fields [200] and 64 fields
// per version (about 16 bytes a field), and at most MaxStateValues
// distinct values per field [12]; at most MaxBatchItems documents of one
// batch answer are tracked [100]. The worst case is thus some 64 × 256 ×
// 64 × 16 B ≈ 17 MB of versions, far less for real apps (a few resources,
// 20 fields). Report and Rules take the lock for one pass over what is
// kept.
//
// # The proposal
//
// For each resource with successful writes: <resource>.created (POST on
// the collection, or under a parent, with its exact status; each for batch
// answers), <resource>.updated (PUT/PATCH of one; a batch PATCH with each
// over its keys), <resource>.deleted (DELETE of one, or a batch of ids),
// <resource>.<field>_changed for each state-like field on each write route
// that changes it, and a rule with no name on the GET of one that keeps
// the state fresh. Rules with state key it "<resource>:{path.id}", fetch
// what is not remembered with the observed GET (select: for an envelope),
// and compare the last-modified field in when so that a write that
// changes nothing emits nothing. A write whose answer shows no resource
// but whose request names a tracked one by id (a payment provider's
// callback naming its order) gets a rule with no name that forgets that
// resource's state (snapshot: none), so that the next change of it is
// compared with the app's answer to a prefetch, not with a stale
// snapshot. A POST whose answers show documents already seen, or on a
// route named like a query (/orders/search), is not a create. Every rule
// says what it was learned from; the file holds at most 500 rules (the
// rules package reads at most 100,000 YAML nodes), the busiest resources
// first.
package learn
