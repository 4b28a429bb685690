package admin

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// credentialsInput is the auth or tls object of a request: null removes
// it; otherwise the fields it names replace the stored ones, and the
// others are kept (for auth, while its type stays the same). So an edit
// need not send the secrets again, which the API never shows.
type credentialsInput struct {
	null   bool
	fields map[string]string
	scopes []string
	given  map[string]bool
}

// The fields of auth and tls: strings, but for scopes; the *_set ones are
// what the API shows in place of the secrets.
var (
	authStrings = []string{"type", "username", "password", "token", "token_url", "client_id", "client_secret"}
	tlsStrings  = []string{"client_certificate", "client_key", "ca"}
	shownOnly   = map[string]bool{"password_set": true, "token_set": true, "client_secret_set": true, "client_key_set": true}
)

// decodeCredentials reads the auth or tls object (name), key by key, so
// that each bad key gets its own message, as auth.<key>.
func decodeCredentials(name string, val json.RawMessage, fe webhook.FieldErrors) *credentialsInput {
	in := &credentialsInput{fields: map[string]string{}, given: map[string]bool{}}
	if string(val) == "null" {
		in.null = true
		return in
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(val, &raw); err != nil || raw == nil {
		fe[name] = map[string]string{
			"auth": `must be an object such as {"type": "bearer", "token": "…"}, or null`,
			"tls":  `must be an object such as {"client_certificate": "-----BEGIN CERTIFICATE-----…", "client_key": "…"}, or null`,
		}[name]
		return nil
	}
	strs := authStrings
	if name == "tls" {
		strs = tlsStrings
	}
	for key, v := range raw {
		field := name + "." + key
		switch {
		case slices.Contains(strs, key):
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				fe[field] = "must be a string"
			}
			in.fields[key] = s
		case name == "auth" && key == "scopes":
			if err := json.Unmarshal(v, &in.scopes); err != nil {
				fe[field] = "must be an array of strings"
			}
		case shownOnly[key]:
			fe[field] = "read-only"
		default:
			fe[field] = "unknown field"
		}
		in.given[key] = true
	}
	return in
}

// applyAuth sets sub's auth from in, merged into the stored one of the
// same type.
func (in *credentialsInput) applyAuth(sub *webhook.Subscription) {
	if in.null {
		sub.Auth = nil
		return
	}
	a := &webhook.Auth{}
	if old := sub.Auth; old != nil && (!in.given["type"] || strings.TrimSpace(in.fields["type"]) == old.Type) {
		*a = *old
	}
	in.set(&a.Type, "type", true)
	in.set(&a.Username, "username", true)
	in.set(&a.Password, "password", false) // secrets are taken as given, spaces included
	in.set(&a.Token, "token", false)
	in.set(&a.TokenURL, "token_url", true)
	in.set(&a.ClientID, "client_id", true)
	in.set(&a.ClientSecret, "client_secret", false)
	if in.given["scopes"] {
		a.Scopes = in.scopes
	}
	sub.Auth = a
}

// applyTLS sets sub's tls from in, merged into the stored one; with
// neither certificate nor CA left, tls is removed.
func (in *credentialsInput) applyTLS(sub *webhook.Subscription) {
	t := &webhook.ClientTLS{}
	if sub.TLS != nil && !in.null {
		*t = *sub.TLS
	}
	in.set(&t.ClientCertificate, "client_certificate", true)
	in.set(&t.ClientKey, "client_key", false)
	in.set(&t.CA, "ca", true)
	if t.ClientCertificate == "" && !in.given["client_key"] {
		t.ClientKey = "" // went with the certificate removed
	}
	if t.IsZero() {
		t = nil
	}
	sub.TLS = t
}

// set copies field key, when given, to dst.
func (in *credentialsInput) set(dst *string, key string, trim bool) {
	if !in.given[key] {
		return
	}
	*dst = in.fields[key]
	if trim {
		*dst = strings.TrimSpace(*dst)
	}
}

// authView is a subscription's auth as the API shows it: its secrets
// only as being set.
type authView struct {
	Type            string   `json:"type"`
	Username        string   `json:"username,omitempty"`
	PasswordSet     bool     `json:"password_set,omitempty"`
	TokenSet        bool     `json:"token_set,omitempty"`
	TokenURL        string   `json:"token_url,omitempty"`
	ClientID        string   `json:"client_id,omitempty"`
	ClientSecretSet bool     `json:"client_secret_set,omitempty"`
	Scopes          []string `json:"scopes,omitempty"`
}

func newAuthView(a *webhook.Auth) *authView {
	if a == nil {
		return nil
	}
	return &authView{
		Type: a.Type, Username: a.Username, PasswordSet: a.Password != "", TokenSet: a.Token != "",
		TokenURL: a.TokenURL, ClientID: a.ClientID, ClientSecretSet: a.ClientSecret != "", Scopes: a.Scopes,
	}
}

// tlsView is a subscription's tls as the API shows it: the certificates
// (public), the key only as being set.
type tlsView struct {
	ClientCertificate string `json:"client_certificate,omitempty"`
	ClientKeySet      bool   `json:"client_key_set,omitempty"`
	CA                string `json:"ca,omitempty"`
}

func newTLSView(t *webhook.ClientTLS) *tlsView {
	if t == nil {
		return nil
	}
	return &tlsView{ClientCertificate: t.ClientCertificate, ClientKeySet: t.ClientKey != "", CA: t.CA}
}
