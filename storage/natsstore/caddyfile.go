package natsstore

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads the `storage nats` block of the webhooks global
// option:
//
//	storage nats {
//		url         <url>[,<url>…] [<url>…]
//		credentials <file>
//		nkey        <file>
//		user        <name> <password>
//		token       <token>
//		tls {
//			ca   <file>
//			cert <file>
//			key  <file>
//		}
//		prefix      <name>
//		replicas    <n>
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
			return d.Errf("storage nats: %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "url":
			urls := d.RemainingArgs()
			if len(urls) == 0 {
				return d.ArgErr()
			}
			b.URL = strings.Join(urls, ",")
		case "credentials":
			err = oneArg(d, &b.Credentials)
		case "nkey":
			err = oneArg(d, &b.NKey)
		case "token":
			err = oneArg(d, &b.Token)
		case "prefix":
			err = oneArg(d, &b.Prefix)
		case "user":
			if !d.Args(&b.User, &b.Password) || d.NextArg() {
				return d.Errf("storage nats: user takes a name and a password")
			}
		case "replicas":
			err = b.unmarshalReplicas(d)
		case "tls":
			err = b.unmarshalTLS(d)
		default:
			return d.Errf("storage nats: unknown option %q (url, credentials, nkey, user, token, tls, prefix, replicas)", key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// oneArg reads the single argument of an option into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.AllArgs(dst) {
		return d.ArgErr()
	}
	return nil
}

func (b *Backend) unmarshalReplicas(d *caddyfile.Dispenser) error {
	var s string
	if !d.AllArgs(&s) {
		return d.ArgErr()
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxReplicas {
		return d.Errf("storage nats: replicas %q is not a number from 1 to %d", s, maxReplicas)
	}
	b.Replicas = n
	return nil
}

// unmarshalTLS reads the tls block.
func (b *Backend) unmarshalTLS(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	b.TLS = new(TLS)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		if seen[key] {
			return d.Errf("storage nats: tls %s given twice", key)
		}
		seen[key] = true
		var dst *string
		switch key {
		case "ca":
			dst = &b.TLS.CA
		case "cert":
			dst = &b.TLS.Cert
		case "key":
			dst = &b.TLS.Key
		default:
			return d.Errf("storage nats: unknown tls option %q (ca, cert, key)", key)
		}
		if err := oneArg(d, dst); err != nil {
			return err
		}
	}
	return nil
}
