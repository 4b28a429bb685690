package badgerstore

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

func init() {
	fs := flag.NewFlagSet("webhooks-rotate-key", flag.ExitOnError)
	fs.String("storage", "", "the webhooks storage directory (default: Caddy's data directory + /webhooks)")
	fs.String("old-key-file", "", "file holding the current encryption key")
	fs.String("new-key-file", "", "file holding the new encryption key")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhooks-rotate-key",
		Usage: "--old-key-file <path> --new-key-file <path> [--storage <dir>]",
		Short: "Changes the encryption key of the webhooks store",
		Long: `
Re-encrypts the key registry of an encrypted webhooks store with a new key:
the data keys, which encrypt the data, are kept and encrypted with the new
key; the data files are not rewritten. Key files hold the key as in the
encryption_key option (base64, or 32, 48 or 64 hex digits).

Caddy must be stopped: the command refuses a store that a process has open.
Then start Caddy with the new key.`,
		Flags: fs,
		Func:  cmdRotateKey,
	})
}

func cmdRotateKey(fl caddycmd.Flags) (int, error) {
	err := rotateKeyFiles(fl.String("storage"), fl.String("old-key-file"), fl.String("new-key-file"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

// rotateKeyFiles changes the key of the store in dir from the key in
// oldFile to the key in newFile.
func rotateKeyFiles(dir, oldFile, newFile string) error {
	if oldFile == "" || newFile == "" {
		return fmt.Errorf("--old-key-file and --new-key-file are required")
	}
	if dir == "" {
		dir = filepath.Join(caddy.AppDataDir(), "webhooks")
	}
	oldKey, err := readKeyFile(oldFile)
	if err != nil {
		return fmt.Errorf("--old-key-file: %w", err)
	}
	newKey, err := readKeyFile(newFile)
	if err != nil {
		return fmt.Errorf("--new-key-file: %w", err)
	}
	if err := RotateKey(dir, oldKey, newKey); err != nil {
		return fmt.Errorf("rotating the key of %s: %w", dir, err)
	}
	fmt.Printf("The encryption key of %s is changed: start Caddy with the new key.\n", dir)
	return nil
}
