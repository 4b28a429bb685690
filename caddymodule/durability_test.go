package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestDurabilitySyncSurvivesKill kills Caddy with SIGKILL right after its
// client got the 201: with durability sync the event must be on disk.
func TestDurabilitySyncSurvivesKill(t *testing.T) {
	s := startStack(t, testRules, "durability sync")
	var ids []string
	for i := 0; i < 5; i++ {
		resp, body := post(t, s.module+"/api/orders", `{"total":10,"site":"s"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var o struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	s.caddy.Kill() // no graceful shutdown, no flush

	// Caddy restarts on the same directory and opens the store.
	c := startAgain(t, s)
	c.Stop()
	got := createdOrderIDs(t, s.storage)
	for _, id := range ids {
		if !got[id] {
			t.Errorf("order %s got its 201 but its event is not in the store after kill -9", id)
		}
	}
}
