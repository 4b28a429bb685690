package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Encryption at rest is Badger's own: the master key given in
// Options.EncryptionKey encrypts the key registry (the KEYREGISTRY file),
// which holds the data keys that encrypt the tables and value logs with
// AES-CTR. Badger makes a new data key every DataKeyRotation; changing the
// master key is RotateKey's job.

// DataKeyRotation is how long Badger uses a data key before it makes a new
// one for the files it writes next (Badger's own default, set explicitly).
const DataKeyRotation = 10 * 24 * time.Hour

// Reasons an encryption key does not open a store.
var (
	ErrStoreNotEncrypted = errors.New("the store is not encrypted, but an encryption key is configured " +
		"(an existing store cannot be encrypted in place: use a new storage directory)")
	ErrStoreEncrypted = errors.New("the store is encrypted, but no encryption key is configured")
	ErrWrongKey       = errors.New("the encryption key is not the one the store is encrypted with")
)

// explainKeyMismatch replaces Badger's ErrEncryptionKeyMismatch, the same
// for all three cases, by the one that applies to dir and key.
func explainKeyMismatch(dir string, key []byte, err error) error {
	if !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		return err
	}
	if len(key) == 0 {
		return ErrStoreEncrypted
	}
	// A registry that opens without a key is not encrypted. Read-only, it
	// neither takes the directory lock nor writes.
	if _, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{Dir: dir, ReadOnly: true}); err == nil {
		return ErrStoreNotEncrypted
	}
	return ErrWrongKey
}

// RotateKey changes the master key of the encrypted store in dir from
// oldKey to newKey: it rewrites the key registry (atomically, by rename)
// with the same data keys encrypted with newKey; the data files are
// unchanged. The store must not be open: RotateKey fails if a process holds
// the directory's lock.
func RotateKey(dir string, oldKey, newKey []byte) error {
	if len(oldKey) == 0 || len(newKey) == 0 {
		return errors.New("rotating the encryption key needs the old and the new key")
	}
	if bytes.Equal(oldKey, newKey) {
		return errors.New("the new encryption key is the old one")
	}
	if _, err := os.Stat(filepath.Join(dir, badger.KeyRegistryFileName)); err != nil {
		return fmt.Errorf("%s is not a webhooks store: %w", dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	opt := badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: oldKey, EncryptionKeyRotationDuration: DataKeyRotation}
	kr, err := badger.OpenKeyRegistry(opt)
	if err != nil {
		return fmt.Errorf("old key: %w", explainKeyMismatch(dir, oldKey, err))
	}
	opt.ReadOnly = false
	opt.EncryptionKey = newKey
	if err := badger.WriteKeyRegistry(kr, opt); err != nil {
		return fmt.Errorf("writing the key registry of %s: %w", dir, err)
	}
	return nil
}
