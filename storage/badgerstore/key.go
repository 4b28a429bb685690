package badgerstore

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// keyFormat is what parseKey accepts, for its errors.
const keyFormat = "want a 16, 24 or 32-byte key as base64 or as 32, 48 or 64 hex digits"

// parseKey decodes an encryption key (AES-128, -192 or -256): 32, 48 or 64
// hex digits, or base64 (standard or URL alphabet, padded or not) of 16, 24
// or 32 bytes. Surrounding white space (a key file's final newline) is
// ignored. Errors never quote the text, which may be a mistyped key.
func parseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("the key is empty")
	}
	// Go's base64 decoder skips line breaks: refuse them rather than
	// read a key split over lines as another key.
	if strings.ContainsAny(text, " \t\r\n") {
		return nil, fmt.Errorf("the key contains white space: %s", keyFormat)
	}
	// Hex first: hex digits are base64 characters too, and a string of
	// 32, 48 or 64 of them is far likelier a hex key.
	if n := len(text); n == 32 || n == 48 || n == 64 {
		if key, err := hex.DecodeString(text); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(text)
		if err != nil {
			continue
		}
		if n := len(key); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("the key is %d bytes of base64: %s", n, keyFormat)
		}
		return key, nil
	}
	return nil, fmt.Errorf("the key (%d characters) is neither hex nor base64: %s", len(text), keyFormat)
}

// provisionKey loads the encryption key of the store, if configured.
func (a *Backend) provisionKey(repl *caddy.Replacer) error {
	var err error
	switch {
	case a.EncryptionKey != "" && a.EncryptionKeyFile != "":
		return errors.New("encryption_key and encryption_key_file are both set: use one")
	case a.EncryptionKey != "":
		text := repl.ReplaceKnown(a.EncryptionKey, "")
		if text == "" {
			return errors.New("encryption_key is empty once its placeholders are replaced (is the environment variable set?)")
		}
		if a.key, err = parseKey(text); err != nil {
			return fmt.Errorf("encryption_key: %w", err)
		}
	case a.EncryptionKeyFile != "":
		if a.key, err = readKeyFile(repl.ReplaceKnown(a.EncryptionKeyFile, "")); err != nil {
			return fmt.Errorf("encryption_key_file: %w", err)
		}
	}
	return nil
}

// readKeyFile reads and decodes a key file.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}
