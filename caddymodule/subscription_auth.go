package caddymodule

import (
	"fmt"
	"os"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TLSFiles are the PEM files of a config subscription's tls: in config,
// files rather than the PEM itself (which the admin API takes), so that
// the key stays where the ops keep keys. They are read when the config
// loads: a renewed certificate takes a reload.
type TLSFiles struct {
	// ClientCertificate is the client certificate for mutual TLS,
	// followed by its chain if the receiver needs it.
	ClientCertificate string `json:"client_certificate,omitempty"`
	// ClientKey is its private key (unencrypted PEM).
	ClientKey string `json:"client_key,omitempty"`
	// CA holds the CAs trusted for the receiver's certificate, instead of
	// the system's.
	CA string `json:"ca,omitempty"`
}

// provisionCredentials applies placeholders to auth and the tls paths.
func (sc *SubscriptionConfig) provisionCredentials(repl *caddy.Replacer) {
	if a := sc.Auth; a != nil {
		for _, s := range []*string{&a.Username, &a.Password, &a.Token, &a.TokenURL, &a.ClientID, &a.ClientSecret} {
			*s = repl.ReplaceKnown(*s, "")
		}
	}
	if f := sc.TLS; f != nil {
		for _, s := range []*string{&f.ClientCertificate, &f.ClientKey, &f.CA} {
			*s = repl.ReplaceKnown(*s, "")
		}
	}
}

// loadTLS reads the tls files into the PEM the subscription stores.
func (sc *SubscriptionConfig) loadTLS() error {
	sc.tlsPEM = nil
	if sc.TLS == nil {
		return nil
	}
	pem := new(webhook.ClientTLS)
	for _, f := range []struct {
		name, path string
		dst        *string
	}{
		{"client_certificate", sc.TLS.ClientCertificate, &pem.ClientCertificate},
		{"client_key", sc.TLS.ClientKey, &pem.ClientKey},
		{"ca", sc.TLS.CA, &pem.CA},
	} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("tls %s: %w", f.name, err)
		}
		*f.dst = string(b)
	}
	sc.tlsPEM = pem
	return nil
}

// parseAuthBlock reads `auth <type> { … }`:
//
//	auth basic {
//		username <name>
//		password <password>
//	}
//	auth bearer {
//		token <token>
//	}
//	auth oauth2_client_credentials {
//		token_url     <url>
//		client_id     <id>
//		client_secret <secret>
//		scopes        <scope>...
//	}
func parseAuthBlock(d *caddyfile.Dispenser) (*webhook.Auth, error) {
	a := new(webhook.Auth)
	if !d.AllArgs(&a.Type) {
		return nil, d.Errf("auth takes a type (basic, bearer, oauth2_client_credentials) and a block")
	}
	fields := map[string]*string{
		"username": &a.Username, "password": &a.Password, "token": &a.Token,
		"token_url": &a.TokenURL, "client_id": &a.ClientID, "client_secret": &a.ClientSecret,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		if key == "scopes" {
			if a.Scopes = d.RemainingArgs(); len(a.Scopes) == 0 {
				return nil, d.ArgErr()
			}
			continue
		}
		dst, ok := fields[key]
		if !ok {
			return nil, d.Errf("unrecognized auth option %q", key)
		}
		if !d.AllArgs(dst) {
			return nil, d.Errf("auth %s takes one argument", key)
		}
	}
	return a, nil
}

// parseTLSBlock reads `tls { client_certificate <file>; client_key <file>; ca <file> }`.
func parseTLSBlock(d *caddyfile.Dispenser) (*TLSFiles, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	f := new(TLSFiles)
	fields := map[string]*string{"client_certificate": &f.ClientCertificate, "client_key": &f.ClientKey, "ca": &f.CA}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		dst, ok := fields[key]
		if !ok {
			return nil, d.Errf("unrecognized tls option %q (client_certificate, client_key, ca: PEM files)", key)
		}
		if !d.AllArgs(dst) {
			return nil, d.Errf("tls %s takes one argument, a file", key)
		}
	}
	return f, nil
}

// parseCredentials reads a subscription's auth or tls block, once each.
func parseCredentials(d *caddyfile.Dispenser, sc *SubscriptionConfig) error {
	var err error
	switch key := d.Val(); {
	case key == "auth" && sc.Auth == nil:
		sc.Auth, err = parseAuthBlock(d)
	case key == "tls" && sc.TLS == nil:
		sc.TLS, err = parseTLSBlock(d)
	default:
		return d.Errf("subscription %s given twice", key)
	}
	return err
}
