package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

var (
	testKey1 = bytes.Repeat([]byte{0x11}, 32)
	testKey2 = bytes.Repeat([]byte{0x22}, 16)
)

// writeEvent opens dir with key, stores one event carrying marker, and
// closes the store.
func writeEvent(t *testing.T, dir string, key []byte, marker string) {
	t.Helper()
	s, err := Open(Options{Dir: dir, EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ev := webhook.Event{ID: webhook.NewID("evt_", now), Name: "order.created", Time: now, Data: json.RawMessage(`{"note":"` + marker + `"}`)}
	if err := s.Commit(context.Background(), []webhook.Event{ev}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptionHidesEventsOnDisk(t *testing.T) {
	const marker = "plaintext-marker-5f0c9a"
	for _, tc := range []struct {
		name string
		key  []byte
		want bool
	}{
		{"unencrypted", nil, true},
		{"encrypted", testKey1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeEvent(t, dir, tc.key, marker)
			if got := testbed.DirContains(t, dir, marker); got != tc.want {
				t.Errorf("store files contain the event's text: %v, want %v", got, tc.want)
			}
			// And the event reads back with the same key.
			s, err := Open(Options{Dir: dir, EncryptionKey: tc.key})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := collect(t, s, time.Now().Add(-time.Hour))
			if len(got) != 1 || !strings.Contains(string(got[0].Data), marker) {
				t.Errorf("read back %+v", got)
			}
		})
	}
}

func TestEncryptionKeyMismatch(t *testing.T) {
	for _, tc := range []struct {
		name        string
		create, use []byte
		want        error
	}{
		{"key on an unencrypted store", nil, testKey1, ErrStoreNotEncrypted},
		{"no key on an encrypted store", testKey1, nil, ErrStoreEncrypted},
		{"wrong key", testKey1, testKey2, ErrWrongKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeEvent(t, dir, tc.create, "x")
			s, err := Open(Options{Dir: dir, EncryptionKey: tc.use})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "opening webhooks store "+dir) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The failed open released the directory: the right key opens it.
			s, err = Open(Options{Dir: dir, EncryptionKey: tc.create})
			if err != nil {
				t.Fatalf("reopening with the right key: %v", err)
			}
			s.Close()
		})
	}
}

func TestRotateKey(t *testing.T) {
	const marker = "rotated-marker-77e1"
	dir := t.TempDir()
	writeEvent(t, dir, testKey1, marker)
	if err := RotateKey(dir, testKey2, bytes.Repeat([]byte{3}, 32)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("rotating with a wrong old key: got %v, want %v", err, ErrWrongKey)
	}
	if err := RotateKey(dir, testKey1, testKey2); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(Options{Dir: dir, EncryptionKey: testKey1}); !errors.Is(err, ErrWrongKey) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("old key after rotation: got %v, want %v", err, ErrWrongKey)
	}
	s, err := Open(Options{Dir: dir, EncryptionKey: testKey2})
	if err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	defer s.Close()
	if got := collect(t, s, time.Now().Add(-time.Hour)); len(got) != 1 || !strings.Contains(string(got[0].Data), marker) {
		t.Errorf("event after rotation: %+v", got)
	}
	// The open store holds the directory lock: no rotation under it.
	if err := RotateKey(dir, testKey2, testKey1); err == nil || !strings.Contains(err.Error(), "in use: stop Caddy first") {
		t.Errorf("rotating an open store: got %v", err)
	}
}

func TestRotateKeyRefuses(t *testing.T) {
	plain := t.TempDir()
	writeEvent(t, plain, nil, "x")
	for _, tc := range []struct {
		name           string
		dir            string
		oldKey, newKey []byte
		want           string
	}{
		{"unencrypted store", plain, testKey1, testKey2, ErrStoreNotEncrypted.Error()},
		{"not a store", t.TempDir(), testKey1, testKey2, "is not a webhooks store"},
		{"same key", plain, testKey1, testKey1, "the new encryption key is the old one"},
		{"no new key", plain, testKey1, nil, "needs the old and the new key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := RotateKey(tc.dir, tc.oldKey, tc.newKey); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}
