// Package shop is a small legacy web shop used to demonstrate caddy-webhooks.
//
// It is modelled on the backend of a small CMS that wants six webhook
// events (a Mongo/Express-style app): orders, customers and a
// Stripe payment webhook, served as JSON with camelCase fields and
// 24-hex-character ObjectId identifiers in an "_id" field.
//
// The shop deliberately contains no webhook code at all. caddy-webhooks,
// placed in front of it as a reverse proxy, infers order.created,
// order.paid, customer.created, customer.updated, … from the requests and
// responses that pass through (see ../rules.yaml).
//
// Everything is kept in memory and lost when the process stops.
package shop
