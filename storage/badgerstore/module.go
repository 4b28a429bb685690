package badgerstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

func init() {
	caddy.RegisterModule(Backend{})
}

// Backend is the `badger` storage of the webhooks app: an embedded Badger
// database in a directory, for one Caddy process. It is the default.
type Backend struct {
	// Dir is the Badger directory. Default: Caddy's data directory +
	// /webhooks.
	Dir string `json:"dir,omitempty"`
	// EncryptionKey encrypts the store at rest: 16, 24 or 32 bytes as hex
	// or base64, best given as a placeholder such as {env.WEBHOOKS_KEY}.
	EncryptionKey string `json:"encryption_key,omitempty"`
	// EncryptionKeyFile is a file holding the key, instead of EncryptionKey.
	EncryptionKeyFile string `json:"encryption_key_file,omitempty"`

	dir string
	key []byte // decoded encryption key, nil without encryption
}

// CaddyModule returns the Caddy module information.
func (Backend) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhooks.storage.badger",
		New: func() caddy.Module { return new(Backend) },
	}
}

// Provision resolves the directory and loads the key.
func (b *Backend) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	b.dir = repl.ReplaceKnown(b.Dir, "")
	if b.dir == "" {
		b.dir = filepath.Join(caddy.AppDataDir(), "webhooks")
	}
	if abs, err := filepath.Abs(b.dir); err == nil {
		b.dir = abs // one key per directory in the process-wide pool
	}
	return b.provisionKey(repl)
}

// PoolKey names the store in the process: configs with the same
// directory share one open database across reloads (Badger locks it).
func (b *Backend) PoolKey() string { return "badger:" + b.dir }

// Open creates the directory if needed and opens the database.
func (b *Backend) Open(logger *zap.Logger, onHealth func(webhook.Health)) (storage.Store, error) {
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage %s: %w", b.dir, err)
	}
	logger.Debug("opening the webhooks store", zap.String("storage", b.dir), zap.Bool("encrypted", b.key != nil))
	s, err := Open(Options{Dir: b.dir, Logger: logger, OnHealth: onHealth, EncryptionKey: b.key})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}

// Compatible refuses a config whose settings differ from those the shared
// store was opened with in a way a reload cannot apply: the old config
// still uses the database, and silently keeping the old key (or none)
// would not do what the new config says.
func (b *Backend) Compatible(opened storage.Backend) error {
	prev, ok := opened.(*Backend)
	if !ok {
		return fmt.Errorf("storage %s: the storage is open with another backend: changing it needs a restart of Caddy", b.dir)
	}
	if !bytes.Equal(prev.key, b.key) {
		return fmt.Errorf("storage %s: the store is open with another encryption key (or without one): changing encryption_key needs a restart of Caddy", b.dir)
	}
	return nil
}

// Describe is what the store's log lines say of it.
func (b *Backend) Describe() []zap.Field {
	return []zap.Field{zap.String("storage", b.dir), zap.Bool("encrypted", b.key != nil)}
}

// UnmarshalCaddyfile reads the `storage badger` block of the webhooks
// global option:
//
//	storage badger {
//		dir                 <dir>
//		encryption_key      <key>
//		encryption_key_file <path>
//	}
func (b *Backend) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend's name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		key := d.Val()
		if seen[key] {
			return d.Errf("storage badger: %s given twice", key)
		}
		seen[key] = true
		var dst *string
		switch key {
		case "dir":
			dst = &b.Dir
		case "encryption_key":
			dst = &b.EncryptionKey
		case "encryption_key_file":
			dst = &b.EncryptionKeyFile
		default:
			return d.Errf("storage badger: unknown option %q (dir, encryption_key, encryption_key_file)", key)
		}
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
	}
	return nil
}

// Interface guards
var (
	_ storage.Backend       = (*Backend)(nil)
	_ storage.Store         = (*Store)(nil)
	_ caddy.Provisioner     = (*Backend)(nil)
	_ caddyfile.Unmarshaler = (*Backend)(nil)
)
