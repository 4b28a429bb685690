package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// guardControl is a net.Dialer Control hook that refuses loopback, private,
// link-local and unspecified addresses. It checks the address actually
// being dialled, after DNS resolution, so a name that resolves (or
// rebinds) to an internal address is refused too.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q: %v", errBlocked, address, err)
	}
	if kind := internal(ap.Addr().Unmap()); kind != "" {
		return fmt.Errorf("%w: %s is a %s address; set allow_private_targets to deliver there", errBlocked, ap.Addr(), kind)
	}
	return nil
}

// internal names the kind of a non-public address, or "".
func internal(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	return ""
}

// dialer returns the dialer deliveries use.
func dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	return d
}
