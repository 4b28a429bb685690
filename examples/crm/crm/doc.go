// Package crm is a small legacy CRM used to demonstrate caddy-webhooks.
//
// It is modelled on a FastAPI/SQLAlchemy CRM (an asset manager's
// distribution team's) that wants thirteen webhook events:
// organisations, people, tasks with quick actions, distribution mandates
// ("mandats", whose status goes proposé → signé → actif → terminé) and
// interactions, served under /api/v1 as JSON with snake_case fields,
// integer ids, FastAPI-style errors ({"detail": …}, 422 for invalid
// input) and naive UTC timestamps with microseconds, as Python writes them.
//
// Users are authenticated by the company's single sign-on gateway, which
// sits in front of the CRM and passes the signed-in user's id in the
// X-User-Id header; the CRM only checks that the id is one of its users
// and what that user's role allows (admin: everything; sales: everything
// but deleting organisations and people; viewer: reading only).
//
// The CRM deliberately contains no webhook code at all. caddy-webhooks,
// placed in front of it as a reverse proxy, infers organisation.created,
// task.completed, mandat.signed, … from the requests and responses that
// pass through (see ../rules.yaml).
//
// Everything is kept in memory and lost when the process stops.
package crm
