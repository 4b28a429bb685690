// Package learnmodel holds no code, only a test: it drives the example
// apps (the shop and the CRM) in-process with the traffic of people
// clicking through them, feeds every exchange to a learn.Model, and checks
// that the rule file it proposes loads and names the catalogue's events
// (../CATALOGUE.md) on the catalogue's routes.
//
//	go -C examples test -run TestLearn -v ./learnmodel
package learnmodel
