package learn

import "strings"

// secretWords are words that make a field name secret wherever they are
// in it (user_password, passwordHash, refresh_token).
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "passphrase": true,
	"secret": true, "secrets": true, "token": true, "tokens": true,
	"hash": true, "hashed": true, "salt": true, "credential": true,
	"credentials": true, "cvv": true, "cvc": true, "ssn": true, "otp": true,
	"totp": true, "mfa": true, "pin": true, "iban": true,
}

// secretPairs are two words that make a secret together (api_key,
// privateKey, access-key, client_secret is already caught by secret).
var secretPairs = map[[2]string]bool{
	{"api", "key"}: true, {"private", "key"}: true, {"access", "key"}: true,
	{"secret", "key"}: true, {"signing", "key"}: true, {"card", "number"}: true,
	{"auth", "code"}: true,
}

// secretJoined catches names written without word breaks (apikey,
// passwordhash, privatekey).
var secretJoined = []string{"password", "passwd", "secret", "apikey", "privatekey", "accesskey", "credential"}

// isSecretName reports whether a field name says it holds a secret: a
// password or its hash, a token, a key, a credential. Such fields are
// redacted from the proposed events and snapshots. It matches words, not
// substrings, so hashtag and tokenizer stay fields.
func isSecretName(name string) bool {
	ws := words(name)
	for i, w := range ws {
		if secretWords[w] {
			return true
		}
		if i > 0 && secretPairs[[2]string{ws[i-1], w}] {
			return true
		}
	}
	lower := strings.ToLower(name)
	for _, s := range secretJoined {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return lower == "authorization" || lower == "cookie"
}

// leafName is the last key of a field path (items[].sku → sku), or ""
// for an array element path.
func leafName(path string) string {
	for strings.HasSuffix(path, "[]") {
		path = path[:len(path)-2]
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	return path
}
