// Package catalogue holds no code, only a test: TestCatalogueRandomTraffic
// puts one real Caddy with the webhooks module in front of both example
// apps (the shop of ../shop and the CRM of ../crm, one site each, with
// their rule files), subscribes a receiver that verifies every signature,
// sends a few hundred random requests (seeded) to both apps, and checks
// that the events delivered are exactly the ones ../CATALOGUE.md promises
// for what the client sent and saw: precision and recall must both be 1.
//
//	go -C examples test -race -run TestCatalogueRandomTraffic -v ./catalogue -args -seed 42
//
// Flags (after -args): -seed (0: the CATALOGUE_SEED environment variable,
// else a new seed, logged), -ops (operations per
// worker). With CI set and no seed given, the seed is 20261123.
package catalogue
