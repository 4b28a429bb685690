package delivery

import "runtime/debug"

// modulePath is this project's Go module.
const modulePath = "github.com/caddy-webhooks/caddy-webhooks"

// UserAgent is sent with every delivery: caddy-webhooks/<version>, the
// version being the module's in the build (a tag, a pseudo-version, or
// "dev" for a build from a work tree).
var UserAgent = "caddy-webhooks/" + version()

func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := ""
	if bi.Main.Path == modulePath {
		v = bi.Main.Version
	}
	for _, dep := range bi.Deps {
		if dep.Path == modulePath {
			v = dep.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}
