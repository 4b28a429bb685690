package rules

import (
	"strings"
	"testing"
)

func TestOrderKey(t *testing.T) {
	set := mustSet(t, `events:
  - name: order.status_changed
    match: {method: PATCH, path: "/orders/{id}"}
    state: {key: "order:{path.id}"}
    data: {id: path.id}
  - name: order.note_added
    match: {method: POST, path: "/orders/{id}/notes"}
    order_key: "order:{response.body.orderId}"
    data: {id: path.id}
  - name: invoice.paid
    match: {method: POST, path: "/invoices"}
    data: {id: response.body.id}
`)
	tests := []struct {
		method, path, body string
		hasKey             bool
		want, wantErr      string
	}{
		{"PATCH", "/orders/7", `{}`, false, "", ""},
		{"POST", "/orders/7/notes", `{"orderId":7}`, true, "order:7", ""},
		{"POST", "/orders/7/notes", `{}`, true, "", "order_key: a placeholder's value is missing"},
		{"POST", "/invoices", `{"id":1}`, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			c := set.Candidates(tt.method, tt.path)[0]
			if hasKey := c.Rule.orderKey != nil; hasKey != tt.hasKey {
				t.Fatalf("the rule has an order_key: %v", hasKey)
			}
			if tt.hasKey && !c.Rule.NeedsResponseBody() {
				t.Error("an order_key over the response body must make the rule read it")
			}
			in := &Input{Method: tt.method, Path: tt.path, Status: 200, RespBody: []byte(tt.body)}
			got, err := c.EventOrderKey(in, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EventOrderKey error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("EventOrderKey = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestOrderKeyErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unclosed", "  - name: order.created\n    match: {path: /x}\n    order_key: \"order:{path.id\"\n", `t.yaml:4: event order.created: order_key: "order:{path.id": unclosed {`},
		{"unknown source", "  - name: order.created\n    match: {path: /x}\n    order_key: \"o:{reponse.body.id}\"\n", `order_key: unknown source "reponse.body.id"`},
		{"item without each", "  - name: order.created\n    match: {path: /x}\n    order_key: \"o:{item.id}\"\n", `order_key reads item, but the rule has no each`},
		{"no name", "  - match: {path: /x}\n    state: {key: k}\n    order_key: k\n", `a rule without a name emits nothing, so it takes no order_key`},
		{"not a string", "  - name: order.created\n    match: {path: /x}\n    order_key: [a]\n", `t.yaml:4: order_key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := Parse("t.yaml", []byte("events:\n"+tt.src))
			if err == nil {
				_, err = Compile(specs)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant %q", err, tt.want)
			}
		})
	}
}
