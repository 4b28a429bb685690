package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestParseFlags(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "WEBHOOK_SECRET" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     string
		want    config
		wantErr string
	}{
		{"defaults from env", nil, testSecret, config{addr: "127.0.0.1:9100"}, ""},
		{"flags", []string{"-addr", "127.0.0.1:0", "-secret", "legacy-secret-0123456789", "-scheme", "hex", "-status", "500", "-quiet"},
			testSecret, config{addr: "127.0.0.1:0", quiet: true}, ""},
		{"no secret", nil, "", config{}, "no secret"},
		{"bad scheme", []string{"-scheme", "md5"}, testSecret, config{}, `unknown scheme "md5"`},
		{"bad status", []string{"-status", "99"}, testSecret, config{}, "status 99"},
		{"secret unfit", []string{"-scheme", "standard", "-secret", "legacy-secret-0123456789"}, "", config{}, "secret for standard"},
		{"extra argument", []string{"x"}, testSecret, config{}, `unexpected argument "x"`},
		{"unknown flag", []string{"-nope"}, testSecret, config{}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.addr != tc.want.addr || cfg.quiet != tc.want.quiet {
				t.Fatalf("config %+v, want %+v", cfg, tc.want)
			}
		})
	}

	cfg, err := parseFlags([]string{"-secret", "legacy-secret-0123456789", "-scheme", "sha256", "-status", "204"}, env(testSecret), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.opts; o.Secret != "legacy-secret-0123456789" || o.Scheme != "sha256" || o.Status != 204 {
		t.Fatalf("options %+v: -secret must win over WEBHOOK_SECRET", o)
	}
	if cfg, _ := parseFlags(nil, env(testSecret), io.Discard); cfg.opts.Scheme != "auto" || cfg.opts.Status != 200 {
		t.Fatalf("default options %+v", cfg.opts)
	}
}

func TestRun(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-secret", testSecret}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg.quiet = quiet
		pr, pw := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, cfg, pw); pw.Close() }()

		// Lines are read as they come: the receiver prints a delivery's
		// line before answering it, so the pipe must not block.
		lines := make(chan string, 10)
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		first := <-lines
		addr, ok := strings.CutPrefix(first, "receiver listening on ")
		if !ok {
			t.Fatalf("first line %q", first)
		}

		payload := `{"id":"evt_9","event":"customer.created","data":{"email":"a@b.ch"}}`
		h, err := signer.Sign(signer.Standard, signer.Message{ID: "evt_9", Timestamp: time.Now(), Body: []byte(payload)}, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", "http://"+addr+"/hook", strings.NewReader(payload))
		req.Header = h
		req.Header.Set("X-Webhook-Attempt", "1")
		req.Header.Set("X-Webhook-Id", "sub_9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
		var rest []string
		for l := range lines {
			rest = append(rest, l)
		}
		want := []string{`verified standard customer.created id=evt_9 attempt=1 sub=sub_9 data={"email":"a@b.ch"}`}
		if quiet {
			want = nil
		}
		if !slices.Equal(rest, want) {
			t.Fatalf("quiet=%v: lines after the first %q, want %q", quiet, rest, want)
		}
	}
}
