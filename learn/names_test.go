package learn

import (
	"slices"
	"testing"
)

func TestSingular(t *testing.T) {
	for plural, want := range map[string]string{
		"orders": "order", "customers": "customer", "people": "person", "People": "Person",
		"organisations": "organisation", "mandats": "mandat", "tasks": "task",
		"categories": "category", "companies": "company", "addresses": "address",
		"classes": "class", "boxes": "box", "matches": "match", "wishes": "wish",
		"quizzes": "quiz", "statuses": "status", "status": "status", "analyses": "analysis",
		"children": "child", "men": "man", "women": "woman", "mice": "mouse",
		"indices": "index", "criteria": "criterion", "leaves": "leaf", "knives": "knife",
		"heroes": "hero", "shoes": "shoe", "archives": "archive", "movies": "movie",
		"cookies": "cookie", "caches": "cache", "courses": "course", "responses": "response",
		"licenses": "license", "series": "series", "news": "news", "data": "data",
		"media": "media", "auth": "auth", "me": "me", "line_items": "line_item",
		"line-items": "line-item", "lineItems": "lineItem", "LineItems": "LineItem",
		"ORDERS": "ORDER", "COMPANIES": "COMPANY", "user-preferences": "user-preference",
		"analysis": "analysis", "bus": "bus", "buses": "bus", "ties": "tie", "news-items": "news-item",
	} {
		if got := singular(plural); got != want {
			t.Errorf("singular(%q) = %q, want %q", plural, got, want)
		}
	}
}

func TestWordsAndStyle(t *testing.T) {
	for name, want := range map[string][]string{
		"passwordHash":  {"password", "hash"},
		"password_hash": {"password", "hash"},
		"PasswordHash":  {"password", "hash"},
		"APIKey":        {"api", "key"},
		"_id":           {"id"},
		"x-api-key":     {"x", "api", "key"},
		"updatedAt":     {"updated", "at"},
	} {
		if got := words(name); !slices.Equal(got, want) {
			t.Errorf("words(%q) = %q, want %q", name, got, want)
		}
	}
	if s := styleOf([]string{"_id", "orderNumber", "createdAt", "status"}); s != camelCase {
		t.Errorf("shop fields: %v", s)
	}
	if s := styleOf([]string{"id", "first_name", "created_at", "status"}); s != snakeCase {
		t.Errorf("CRM fields: %v", s)
	}
	for _, tt := range []struct {
		s    style
		ws   []string
		want string
	}{
		{camelCase, []string{"old", "status"}, "oldStatus"},
		{snakeCase, []string{"old", "status"}, "old_status"},
		{camelCase, []string{"new", "paymentStatus"}, "newPaymentStatus"},
		{snakeCase, []string{"new", "paymentStatus"}, "new_payment_status"},
		{camelCase, []string{"line_item", "id"}, "lineItemId"},
		{snakeCase, []string{"line_item", "id"}, "line_item_id"},
	} {
		if got := tt.s.join(tt.ws...); got != tt.want {
			t.Errorf("%v.join(%q) = %q, want %q", tt.s, tt.ws, got, tt.want)
		}
	}
	for name, want := range map[string]string{"lineItem": "line_item", "Person": "person", "ünï": "n", "order2": "order2", "---": ""} {
		if got := eventWord(name); got != want {
			t.Errorf("eventWord(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFieldKinds(t *testing.T) {
	for _, tt := range []struct {
		name          string
		stamp, status bool
	}{
		{"updated_at", true, false},
		{"updatedAt", true, false},
		{"modified", true, false},
		{"modified_at", true, false},
		{"date_updated", true, false},
		{"lastModified", true, false},
		{"mtime", true, false},
		{"updated_by", false, false},
		{"modifiedById", false, false},
		{"created_at", false, false},
		{"status", false, true},
		{"paymentStatus", false, true},
		{"order_state", false, true},
		{"stage", false, true},
		{"statement", false, false},
		{"name", false, false},
	} {
		if got := isStampName(tt.name); got != tt.stamp {
			t.Errorf("isStampName(%q) = %v", tt.name, got)
		}
		if got := isStatusName(tt.name); got != tt.status {
			t.Errorf("isStatusName(%q) = %v", tt.name, got)
		}
	}
	for v, want := range map[string]bool{
		"pending": true, "signé": true, "in_progress": true, "Institution": true, "non_prioritaire": true,
		"on hold": true, "": false, " padded": false, "2025-10-20": false, "2025-10-18T09:42:31.120523": false,
		"jean@example.ch": false, "https://x": false, "42": false, "6b0403f897c5daf2954abf6e": false,
		"a sentence with many words": false, "this value is much too long to be a state": false,
	} {
		if got := isEnumValue(v); got != want {
			t.Errorf("isEnumValue(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "passwd": true, "passwordHash": true, "password_hash": true,
		"hash": true, "token": true, "access_token": true, "refreshToken": true,
		"secret": true, "client_secret": true, "api_key": true, "apikey": true, "apiKey": true,
		"APIKey": true, "x-api-key": true, "private_key": true, "privateKey": true,
		"credentials": true, "salt": true, "cvv": true, "Authorization": true,
		"hashtag": false, "tokenizer": false, "email": false, "name": false, "key": false,
		"keys": false, "id": false, "status": false, "pinned": false, "sessionId": false,
		"passport": false, "compass": false,
	} {
		if got := isSecretName(name); got != want {
			t.Errorf("isSecretName(%q) = %v, want %v", name, got, want)
		}
	}
	for path, want := range map[string]string{"items[].sku": "sku", "a.b.c": "c", "[]": "", "tags[][]": "tags", "x": "x"} {
		if got := leafName(path); got != want {
			t.Errorf("leafName(%q) = %q, want %q", path, got, want)
		}
	}
}
