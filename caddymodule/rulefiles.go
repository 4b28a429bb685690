package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// ruleFilePath resolves the global placeholders ({env.X}, ...) of a
// `rules` entry: the handler reads the file it names.
func ruleFilePath(name string) string {
	return caddy.NewReplacer().ReplaceKnown(name, "")
}

// digestRuleFile returns the hex SHA-256 of a rule file's content. The
// Caddyfile adapter records it in the handler's JSON so that editing a rule
// file changes the config: Caddy skips a reload whose JSON is unchanged.
func digestRuleFile(name string) (string, error) {
	src, err := os.ReadFile(ruleFilePath(name))
	if err != nil {
		return "", fmt.Errorf("webhooks: rules: %w", err)
	}
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:]), nil
}

// looksLikeRuleFile reports whether a path matcher token names a rule file
// rather than request paths: a YAML or JSON name, or an existing file.
func looksLikeRuleFile(token string) bool {
	switch strings.ToLower(filepath.Ext(token)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	fi, err := os.Stat(ruleFilePath(token))
	return err == nil && fi.Mode().IsRegular()
}
