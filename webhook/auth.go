package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// The types of Auth.
const (
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	// AuthOAuth2 is OAuth 2.0's client credentials grant (RFC 6749 4.4):
	// delivery fetches an access token from TokenURL and sends it as a
	// bearer token.
	AuthOAuth2 = "oauth2_client_credentials"
)

// Auth is how deliveries authenticate to a receiver, in the Authorization
// header. Password, Token and ClientSecret are write-only, like a
// subscription's Secret: stored in full, never shown by the admin API.
type Auth struct {
	Type string `json:"type"`
	// basic
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// bearer
	Token string `json:"token,omitempty"`
	// oauth2_client_credentials
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// ClientTLS is the TLS of deliveries to an https:// receiver, as PEM: the
// client certificate (and the chain to send with it) and its key, for
// receivers that require mutual TLS, and the CAs to trust for the
// receiver's certificate instead of the system's. ClientKey is write-only.
type ClientTLS struct {
	ClientCertificate string `json:"client_certificate,omitempty"`
	ClientKey         string `json:"client_key,omitempty"`
	CA                string `json:"ca,omitempty"`
}

// Limits on credentials: generous for real ones, small enough that no
// subscription bloats every request or the store.
const (
	maxCredential = 4 << 10  // a password, token or client secret
	maxName       = 256      // a username, client id or scope
	maxScopes     = 32       // scopes of a token request
	maxPEM        = 64 << 10 // a certificate chain, key or CA bundle
)

// authFields are the fields each type takes, besides type.
var authFields = map[string][]string{
	AuthBasic:  {"username", "password"},
	AuthBearer: {"token"},
	AuthOAuth2: {"token_url", "client_id", "client_secret", "scopes"},
}

// validateCredentials adds the problems of auth and tls to fe, under
// auth.<field> and tls.<field>.
func (s *Subscription) validateCredentials(fe FieldErrors) {
	if s.Auth != nil {
		s.Auth.validate(fe)
		for name := range s.Headers {
			if textproto.CanonicalMIMEHeaderKey(name) == "Authorization" && fe["headers"] == "" {
				fe["headers"] = fmt.Sprintf("Authorization is set by auth (%s): remove it from the headers, or remove auth", s.Auth.Type)
			}
		}
	}
	if s.TLS == nil || s.TLS.IsZero() {
		return
	}
	if u, err := url.Parse(s.URL); err == nil && u.Scheme == "http" {
		fe["tls"] = "applies to https:// targets only, and url is http://"
	}
	var tlsErrs FieldErrors
	if _, err := s.TLS.Config(time.Now()); errors.As(err, &tlsErrs) {
		maps.Copy(fe, tlsErrs)
	}
}

func (a *Auth) validate(fe FieldErrors) {
	fields, ok := authFields[a.Type]
	if !ok {
		fe["auth.type"] = fmt.Sprintf("%q is not one of basic, bearer, oauth2_client_credentials", a.Type)
		return
	}
	given := map[string]bool{
		"username": a.Username != "", "password": a.Password != "", "token": a.Token != "",
		"token_url": a.TokenURL != "", "client_id": a.ClientID != "", "client_secret": a.ClientSecret != "", "scopes": len(a.Scopes) > 0,
	}
	for _, f := range fields {
		delete(given, f)
	}
	for f, set := range given {
		if set {
			fe["auth."+f] = fmt.Sprintf("not a field of %s auth, which takes %s", a.Type, strings.Join(fields, ", "))
		}
	}
	switch a.Type {
	case AuthBasic:
		check(fe, "auth.username", text(a.Username, maxName, true))
		if strings.Contains(a.Username, ":") && fe["auth.username"] == "" {
			fe["auth.username"] = "must not contain a colon (basic auth joins username:password)"
		}
		check(fe, "auth.password", text(a.Password, maxCredential, false))
	case AuthBearer:
		check(fe, "auth.token", token(a.Token))
	case AuthOAuth2:
		check(fe, "auth.token_url", tokenURL(a.TokenURL))
		check(fe, "auth.client_id", text(a.ClientID, maxName, true))
		check(fe, "auth.client_secret", text(a.ClientSecret, maxCredential, true))
		check(fe, "auth.scopes", scopes(a.Scopes))
	}
}

func check(fe FieldErrors, field, msg string) {
	if msg != "" {
		fe[field] = msg
	}
}

// text says what is wrong with a credential's text, or "".
func text(s string, limit int, required bool) string {
	switch {
	case s == "" && required:
		return "required"
	case len(s) > limit:
		return fmt.Sprintf("at most %d bytes", limit)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters (line breaks, tabs)"
	}
	return ""
}

// token says what is wrong with a bearer token, or "": it goes into a
// header as it is, so it is visible ASCII (RFC 6750's b64token and the
// opaque tokens of most APIs).
func token(s string) string {
	if msg := text(s, maxCredential, true); msg != "" {
		return msg
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return `must be visible ASCII without spaces (the token alone, without "Bearer ")`
	}
	return ""
}

// tokenURL says what is wrong with an OAuth2 token endpoint, or "".
func tokenURL(raw string) string {
	if raw == "" {
		return "required"
	}
	if len(raw) > 2048 {
		return "at most 2048 characters"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a valid URL" // url.Error would quote it, credentials and all
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an absolute https:// (or http://) URL"
	case u.Hostname() == "":
		return "must have a host"
	case !validPort(u.Port()):
		return fmt.Sprintf("port %s is not one of 1 to 65535", u.Port())
	case u.User != nil:
		return "must not contain credentials (client_id and client_secret are sent)"
	case u.Fragment != "":
		return "must not have a #fragment"
	}
	return ""
}

// scopes says what is wrong with OAuth2 scopes, or "": each a scope-token
// of RFC 6749 3.3 (they are sent joined by spaces).
func scopes(list []string) string {
	if len(list) > maxScopes {
		return fmt.Sprintf("at most %d scopes", maxScopes)
	}
	for _, s := range list {
		bad := strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' })
		if s == "" || len(s) > maxName || bad {
			return fmt.Sprintf("%q is not a scope (1 to %d visible ASCII characters, no spaces, quotes or backslashes)", s, maxName)
		}
	}
	return ""
}

// IsZero reports whether t sets nothing.
func (t *ClientTLS) IsZero() bool {
	return t.ClientCertificate == "" && t.ClientKey == "" && t.CA == ""
}

// Config returns the TLS config of deliveries: the client certificate
// (valid at now), and the CA pool when ca is set (nil: the system's). Its
// error is FieldErrors naming tls.<field>.
func (t *ClientTLS) Config(now time.Time) (*tls.Config, error) {
	fe := FieldErrors{}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case t.ClientCertificate == "" && t.ClientKey != "":
		fe["tls.client_certificate"] = "required with client_key"
	case t.ClientCertificate != "" && t.ClientKey == "":
		fe["tls.client_key"] = "required with client_certificate"
	case t.ClientCertificate != "":
		if cert, ok := clientCertificate(t, now, fe); ok {
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if t.CA != "" {
		pool, msg := caPool(t.CA)
		check(fe, "tls.ca", msg)
		cfg.RootCAs = pool
	}
	if len(fe) > 0 {
		return nil, fe
	}
	return cfg, nil
}

// clientCertificate parses the certificate chain and its key, adding what
// is wrong to fe.
func clientCertificate(t *ClientTLS, now time.Time, fe FieldErrors) (tls.Certificate, bool) {
	leaf, msg := firstCertificate(t.ClientCertificate)
	if msg != "" {
		fe["tls.client_certificate"] = msg
		return tls.Certificate{}, false
	}
	if now.After(leaf.NotAfter) {
		fe["tls.client_certificate"] = fmt.Sprintf("expired on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
		return tls.Certificate{}, false
	}
	if len(t.ClientKey) > maxPEM {
		fe["tls.client_key"] = fmt.Sprintf("at most %d bytes", maxPEM)
		return tls.Certificate{}, false
	}
	if !plainKeyPEM(t.ClientKey) {
		fe["tls.client_key"] = "not a PEM private key (-----BEGIN PRIVATE KEY-----, unencrypted)"
		return tls.Certificate{}, false
	}
	cert, err := tls.X509KeyPair([]byte(t.ClientCertificate), []byte(t.ClientKey))
	if err != nil {
		fe["tls.client_key"] = "does not go with client_certificate: " + err.Error()
		return tls.Certificate{}, false
	}
	return cert, true
}

// plainKeyPEM reports whether s holds an unencrypted PEM private key:
// its first block whose type ends in PRIVATE KEY, the one
// tls.X509KeyPair takes (others, such as EC PARAMETERS, may come before),
// neither PKCS#8-encrypted nor with a legacy Proc-Type: 4,ENCRYPTED.
func plainKeyPEM(s string) bool {
	rest := []byte(s)
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return !strings.Contains(block.Type, "ENCRYPTED") && !strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED")
		}
	}
}

// firstCertificate parses the PEM certificates of s and returns the first.
func firstCertificate(s string) (*x509.Certificate, string) {
	certs, msg := certificates(s)
	if msg != "" {
		return nil, msg
	}
	return certs[0], ""
}

// certificates parses every block of s, all CERTIFICATE blocks.
func certificates(s string) ([]*x509.Certificate, string) {
	if len(s) > maxPEM {
		return nil, fmt.Sprintf("at most %d bytes", maxPEM)
	}
	var out []*x509.Certificate
	rest := []byte(s)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Sprintf("holds a %s block: only CERTIFICATE blocks belong here", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("certificate %d: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, "has text after its last PEM block"
	}
	return out, ""
}

// caPool parses a CA bundle.
func caPool(s string) (*x509.CertPool, string) {
	certs, msg := certificates(s)
	if msg != "" {
		return nil, msg
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, ""
}
