package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// special is a range that deliveries do not go to unless
// allow_private_targets is set.
type special struct {
	prefix netip.Prefix
	what   string // completes "<address> is …"
	// embedded, for ranges that carry an IPv4 address, returns it: such an
	// address is judged by the IPv4 address instead.
	embedded func(netip.Addr) netip.Addr
}

// specialRanges are every range of IANA's IPv4 and IPv6 Special-Purpose
// Address Registries (including the few it marks globally reachable, such
// as AS112 and anycast blocks, where no webhook receiver lives), the
// multicast blocks, deprecated site-local, and all IPv6 space outside
// 2000::/3, the only block IANA allocates for global unicast. The longest
// matching prefix decides.
var specialRanges = []special{
	// IPv4
	{prefix: pfx("0.0.0.0/8"), what: `a "this network" address`},
	{prefix: pfx("0.0.0.0/32"), what: "an unspecified address"},
	{prefix: pfx("10.0.0.0/8"), what: "a private address"},
	{prefix: pfx("100.64.0.0/10"), what: "a shared (carrier-grade NAT) address"},
	{prefix: pfx("127.0.0.0/8"), what: "a loopback address"},
	{prefix: pfx("169.254.0.0/16"), what: "a link-local address"},
	{prefix: pfx("172.16.0.0/12"), what: "a private address"},
	{prefix: pfx("192.0.0.0/24"), what: "an IETF protocol assignments address"},
	{prefix: pfx("192.0.2.0/24"), what: "a documentation (TEST-NET-1) address"},
	{prefix: pfx("192.31.196.0/24"), what: "an AS112 DNS address"},
	{prefix: pfx("192.52.193.0/24"), what: "an AMT relay address"},
	{prefix: pfx("192.88.99.0/24"), what: "a 6to4 relay anycast (deprecated) address"},
	{prefix: pfx("192.168.0.0/16"), what: "a private address"},
	{prefix: pfx("192.175.48.0/24"), what: "an AS112 DNS address"},
	{prefix: pfx("198.18.0.0/15"), what: "a benchmarking address"},
	{prefix: pfx("198.51.100.0/24"), what: "a documentation (TEST-NET-2) address"},
	{prefix: pfx("203.0.113.0/24"), what: "a documentation (TEST-NET-3) address"},
	{prefix: pfx("224.0.0.0/4"), what: "a multicast address"},
	{prefix: pfx("240.0.0.0/4"), what: "a reserved address"},
	{prefix: pfx("255.255.255.255/32"), what: "a broadcast address"},

	// IPv6 outside 2000::/3
	{prefix: pfx("::/3"), what: "a reserved address (outside 2000::/3, the global unicast space)"},
	{prefix: pfx("4000::/2"), what: "a reserved address (outside 2000::/3, the global unicast space)"},
	{prefix: pfx("8000::/1"), what: "a reserved address (outside 2000::/3, the global unicast space)"},
	{prefix: pfx("::/128"), what: "an unspecified address"},
	{prefix: pfx("::1/128"), what: "a loopback address"},
	{prefix: pfx("::/96"), what: "an IPv4-compatible (deprecated) address"},
	{prefix: pfx("::ffff:0:0/96"), what: "an IPv4-mapped address", embedded: last4},
	{prefix: pfx("64:ff9b::/96"), what: "a NAT64 address", embedded: last4},
	{prefix: pfx("64:ff9b:1::/48"), what: "a local-use NAT64 address"},
	{prefix: pfx("100::/64"), what: "a discard-only address"},
	{prefix: pfx("100:0:0:1::/64"), what: "a dummy-prefix address"},
	{prefix: pfx("5f00::/16"), what: "a segment routing (SRv6 SID) address"},
	{prefix: pfx("fc00::/7"), what: "a private (unique local) address"},
	{prefix: pfx("fe80::/10"), what: "a link-local address"},
	{prefix: pfx("fec0::/10"), what: "a site-local (deprecated) address"},
	{prefix: pfx("ff00::/8"), what: "a multicast address"},
	// IPv6 inside 2000::/3
	{prefix: pfx("2001::/23"), what: "an IETF protocol assignments address"},
	{prefix: pfx("2001::/32"), what: "a Teredo address"},
	{prefix: pfx("2001:2::/48"), what: "a benchmarking address"},
	{prefix: pfx("2001:3::/32"), what: "an AMT address"},
	{prefix: pfx("2001:4:112::/48"), what: "an AS112 DNS address"},
	{prefix: pfx("2001:10::/28"), what: "an ORCHID (deprecated) address"},
	{prefix: pfx("2001:20::/28"), what: "an ORCHIDv2 address"},
	{prefix: pfx("2001:30::/28"), what: "a drone remote ID address"},
	{prefix: pfx("2001:db8::/32"), what: "a documentation address"},
	{prefix: pfx("2002::/16"), what: "a 6to4 address", embedded: sixToFour},
	{prefix: pfx("2620:4f:8000::/48"), what: "an AS112 DNS address"},
	{prefix: pfx("3fff::/20"), what: "a documentation address"},
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// last4 is the IPv4 address in the last 32 bits (IPv4-mapped, NAT64 /96).
func last4(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte(b[12:16]))
}

// sixToFour is the IPv4 address of a 6to4 address, 2002:AABB:CCDD::/48.
func sixToFour(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte(b[2:6]))
}

// lookup returns the longest range of specialRanges holding a, or nil.
func lookup(a netip.Addr) *special {
	var best *special
	for i := range specialRanges {
		r := &specialRanges[i]
		if r.prefix.Contains(a) && (best == nil || r.prefix.Bits() > best.prefix.Bits()) {
			best = r
		}
	}
	return best
}

// refusal says why deliveries may not go to a ("a loopback address"), or
// "" when they may.
func refusal(a netip.Addr) string {
	a = a.WithZone("") // a zoned address matches no prefix
	r := lookup(a)
	switch {
	case r == nil:
		return ""
	case r.embedded == nil:
		return r.what
	}
	v4 := r.embedded(a)
	if inner := lookup(v4); inner != nil {
		return fmt.Sprintf("%s of %s, %s", r.what, v4, inner.what)
	}
	return ""
}

// guardControl is a net.Dialer Control hook that refuses the special
// ranges above. It checks the address actually being dialled, after DNS
// resolution, so a name that resolves (or rebinds) to an internal address
// is refused too.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q: %v", errBlocked, address, err)
	}
	if why := refusal(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s; set allow_private_targets to deliver there", errBlocked, ap.Addr(), why)
	}
	return nil
}

// dialer returns the dialer deliveries use.
func dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	return d
}
