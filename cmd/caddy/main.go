// Command caddy is Caddy with its standard modules and caddy-webhooks.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-webhooks/caddy-webhooks"
)

func main() {
	caddycmd.Main()
}
