package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testpki"
)

// TestValidateCredentials: each kind of bad auth or tls is refused, naming
// the field; the good forms pass.
func TestValidateCredentials(t *testing.T) {
	ca := testpki.NewCA(t, "receiver CA")
	client := ca.Client(t, "caddy", time.Now().Add(time.Hour))
	other := ca.Client(t, "other", time.Now().Add(time.Hour))
	expired := ca.Client(t, "old", time.Now().Add(-time.Minute))
	basic := func() *Auth { return &Auth{Type: AuthBasic, Username: "caddy", Password: "pw"} }
	oauth := func() *Auth {
		return &Auth{Type: AuthOAuth2, TokenURL: "https://idp.example/token", ClientID: "id", ClientSecret: "cs", Scopes: []string{"hooks:write"}}
	}
	mtls := func() *ClientTLS {
		return &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM, CA: ca.PEM}
	}
	cases := []struct {
		name  string
		auth  *Auth
		tls   *ClientTLS
		edit  func(*Subscription)
		field string // "" = valid
	}{
		{name: "basic", auth: basic()},
		{name: "basic without password", auth: &Auth{Type: AuthBasic, Username: "key"}},
		{name: "bearer", auth: &Auth{Type: AuthBearer, Token: "eyJhbGciOi.J9x-_~+/="}},
		{name: "oauth2", auth: oauth()},
		{name: "oauth2 without scopes", auth: &Auth{Type: AuthOAuth2, TokenURL: "http://idp.example:8080/t", ClientID: "id", ClientSecret: "cs"}},
		{name: "mtls", tls: mtls()},
		{name: "ca only", tls: &ClientTLS{CA: ca.PEM}},
		{name: "certificate without ca", tls: &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM}},
		{name: "certificate with its chain", tls: &ClientTLS{ClientCertificate: client.CertPEM + ca.PEM, ClientKey: client.KeyPEM}},
		{name: "key after EC PARAMETERS", tls: &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + client.KeyPEM}},
		{name: "empty tls", tls: &ClientTLS{}},
		{name: "mtls and oauth2", auth: oauth(), tls: mtls()},

		{name: "no type", auth: &Auth{}, field: "auth.type"},
		{name: "unknown type", auth: &Auth{Type: "digest"}, field: "auth.type"},
		{name: "basic without username", auth: &Auth{Type: AuthBasic, Password: "pw"}, field: "auth.username"},
		{name: "username with a colon", auth: &Auth{Type: AuthBasic, Username: "a:b", Password: "pw"}, field: "auth.username"},
		{name: "password with a line break", auth: &Auth{Type: AuthBasic, Username: "a", Password: "p\r\nX: y"}, field: "auth.password"},
		{name: "long password", auth: &Auth{Type: AuthBasic, Username: "a", Password: strings.Repeat("p", maxCredential+1)}, field: "auth.password"},
		{name: "basic with a token", auth: &Auth{Type: AuthBasic, Username: "a", Token: "t"}, field: "auth.token"},
		{name: "bearer without token", auth: &Auth{Type: AuthBearer}, field: "auth.token"},
		{name: "bearer with Bearer in it", auth: &Auth{Type: AuthBearer, Token: "Bearer abc"}, field: "auth.token"},
		{name: "bearer not ASCII", auth: &Auth{Type: AuthBearer, Token: "tökén"}, field: "auth.token"},
		{name: "bearer with a username", auth: &Auth{Type: AuthBearer, Token: "t", Username: "u"}, field: "auth.username"},
		{name: "oauth2 without token_url", auth: func() *Auth { a := oauth(); a.TokenURL = ""; return a }(), field: "auth.token_url"},
		{name: "oauth2 relative token_url", auth: func() *Auth { a := oauth(); a.TokenURL = "/token"; return a }(), field: "auth.token_url"},
		{name: "oauth2 ftp token_url", auth: func() *Auth { a := oauth(); a.TokenURL = "ftp://idp.example/t"; return a }(), field: "auth.token_url"},
		{name: "oauth2 token_url with credentials", auth: func() *Auth { a := oauth(); a.TokenURL = "https://u:p@idp.example/t"; return a }(), field: "auth.token_url"},
		{name: "oauth2 token_url port 0", auth: func() *Auth { a := oauth(); a.TokenURL = "https://idp.example:0/t"; return a }(), field: "auth.token_url"},
		{name: "oauth2 without client_id", auth: func() *Auth { a := oauth(); a.ClientID = ""; return a }(), field: "auth.client_id"},
		{name: "oauth2 without client_secret", auth: func() *Auth { a := oauth(); a.ClientSecret = ""; return a }(), field: "auth.client_secret"},
		{name: "oauth2 scope with a space", auth: func() *Auth { a := oauth(); a.Scopes = []string{"a b"}; return a }(), field: "auth.scopes"},
		{name: "oauth2 empty scope", auth: func() *Auth { a := oauth(); a.Scopes = []string{""}; return a }(), field: "auth.scopes"},
		{name: "oauth2 with a password", auth: func() *Auth { a := oauth(); a.Password = "p"; return a }(), field: "auth.password"},
		{name: "authorization header too", auth: basic(), edit: func(s *Subscription) { s.Headers = map[string]string{"authorization": "x"} }, field: "headers"},

		{name: "tls on http", tls: mtls(), edit: func(s *Subscription) { s.URL = "http://h.example/x" }, field: "tls"},
		{name: "certificate without key", tls: &ClientTLS{ClientCertificate: client.CertPEM}, field: "tls.client_key"},
		{name: "key without certificate", tls: &ClientTLS{ClientKey: client.KeyPEM}, field: "tls.client_certificate"},
		{name: "certificate not PEM", tls: &ClientTLS{ClientCertificate: "MIIB…", ClientKey: client.KeyPEM}, field: "tls.client_certificate"},
		{name: "key in the certificate field", tls: &ClientTLS{ClientCertificate: client.KeyPEM, ClientKey: client.KeyPEM}, field: "tls.client_certificate"},
		{name: "text after the certificate", tls: &ClientTLS{ClientCertificate: client.CertPEM + "junk", ClientKey: client.KeyPEM}, field: "tls.client_certificate"},
		{name: "certificate expired", tls: &ClientTLS{ClientCertificate: expired.CertPEM, ClientKey: expired.KeyPEM}, field: "tls.client_certificate"},
		{name: "key encrypted", tls: &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"}, field: "tls.client_key"},
		{name: "key encrypted the old way", tls: &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nMIIB\n-----END RSA PRIVATE KEY-----\n"}, field: "tls.client_key"},
		{name: "key not PEM", tls: &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: "secret"}, field: "tls.client_key"},
		{name: "key of another certificate", tls: &ClientTLS{ClientCertificate: client.CertPEM, ClientKey: other.KeyPEM}, field: "tls.client_key"},
		{name: "ca not PEM", tls: &ClientTLS{CA: "not a certificate"}, field: "tls.ca"},
		{name: "ca too big", tls: &ClientTLS{CA: strings.Repeat(ca.PEM, maxPEM/len(ca.PEM)+1)}, field: "tls.ca"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Subscription{URL: "https://h.example/x", Events: []string{"order.created"}, Signature: "standard", Secret: "s", Auth: c.auth, TLS: c.tls}
			if c.edit != nil {
				c.edit(s)
			}
			fe := s.Validate(Checks{
				Known:       func(string) bool { return true },
				ValidScheme: func(string) bool { return true },
				ValidSecret: func(string, string) error { return nil },
			})
			switch {
			case c.field == "" && fe != nil:
				t.Errorf("refused: %v", fe)
			case c.field != "" && fe[c.field] == "":
				t.Errorf("want an error on %s, got %v", c.field, fe)
			case c.field != "" && len(fe) != 1:
				t.Errorf("want only %s, got %v", c.field, fe)
			}
		})
	}
}

// TestValidateCredentialsNamesNoSecret: what is wrong is said without the
// secret itself, which the answer of a bad request must not echo.
func TestValidateCredentialsNamesNoSecret(t *testing.T) {
	secret := "hunter2-very-secret\n"
	s := &Subscription{URL: "https://h.example/x", Auth: &Auth{Type: AuthBasic, Username: "u", Password: secret}}
	fe := FieldErrors{}
	s.validateCredentials(fe)
	if fe["auth.password"] == "" || strings.Contains(fe.Error(), "hunter2") {
		t.Errorf("errors %q", fe)
	}
}

// TestClientTLSConfig: the config presents the certificate and trusts
// the CA given, and only it.
func TestClientTLSConfig(t *testing.T) {
	ca := testpki.NewCA(t, "receiver CA")
	client := ca.Client(t, "caddy", time.Now().Add(time.Hour))
	cfg, err := (&ClientTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM, CA: ca.PEM}).Config(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Certificates) != 1 || cfg.RootCAs == nil || !cfg.RootCAs.Equal(ca.Pool) {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = (&ClientTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM}).Config(time.Now())
	if err != nil || cfg.RootCAs != nil {
		t.Errorf("without ca: %v, roots %v (want the system's, nil)", err, cfg.RootCAs)
	}
	if _, err := (&ClientTLS{ClientCertificate: client.CertPEM, ClientKey: client.KeyPEM}).Config(time.Now().Add(2 * time.Hour)); err == nil {
		t.Error("a certificate past its expiry was taken")
	}
}
