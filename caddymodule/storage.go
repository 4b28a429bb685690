package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-webhooks/caddy-webhooks/storage"
)

// provisionStorage loads the storage backend: the module the config names,
// or the embedded Badger one (in the directory a JSON string names, or in
// the default one). The app's encryption_key and encryption_key_file, the
// older place of the Badger store's key, are passed on to it.
func (a *App) provisionStorage(ctx caddy.Context) error {
	raw, err := a.storageConfig()
	if err != nil {
		return err
	}
	mod, err := ctx.LoadModuleByID("webhooks.storage."+raw.backend, raw.config)
	if err != nil {
		return fmt.Errorf("webhooks: storage: %w", err)
	}
	backend, ok := mod.(storage.Backend)
	if !ok {
		return fmt.Errorf("webhooks: storage: module %s is not a storage backend", raw.backend)
	}
	a.backend = backend
	return nil
}

type storageConfig struct {
	backend string
	config  json.RawMessage
}

// storageConfig returns the backend's name and its own configuration.
func (a *App) storageConfig() (storageConfig, error) {
	cfg := map[string]any{}
	var dir string
	switch {
	case len(a.StorageRaw) == 0:
	case json.Unmarshal(a.StorageRaw, &dir) == nil:
		cfg["dir"] = dir
	default:
		if err := json.Unmarshal(a.StorageRaw, &cfg); err != nil {
			return storageConfig{}, fmt.Errorf("webhooks: storage: %w", err)
		}
	}
	name, _ := cfg["backend"].(string)
	delete(cfg, "backend")
	if name == "" {
		name = "badger"
	}
	for field, v := range map[string]string{"encryption_key": a.EncryptionKey, "encryption_key_file": a.EncryptionKeyFile} {
		if v == "" {
			continue
		}
		if _, set := cfg[field]; set {
			return storageConfig{}, errors.New("webhooks: " + field + " is given both in the app and in its storage: give it once")
		}
		cfg[field] = v
	}
	b, err := json.Marshal(cfg)
	return storageConfig{backend: name, config: b}, err
}
