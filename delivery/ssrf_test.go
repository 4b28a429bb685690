package delivery

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestGuardRanges dials (through the Control hook) one address of every
// special-purpose range, and public addresses that must pass: IPv4, IPv6,
// and 6to4, NAT64 and IPv4-mapped addresses of a public IPv4 address.
func TestGuardRanges(t *testing.T) {
	cases := []struct {
		addr string
		want string // a part of the reason; "" = allowed
	}{
		// IPv4 Special-Purpose Address Registry, and multicast
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", `"this network"`},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"169.254.169.254", "link-local"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.0.0.9", "IETF protocol assignments"},
		{"192.0.0.170", "IETF protocol assignments"},
		{"192.0.2.1", "TEST-NET-1"},
		{"192.31.196.1", "AS112"},
		{"192.52.193.1", "AMT"},
		{"192.88.99.1", "6to4 relay anycast"},
		{"192.168.1.1", "private"},
		{"192.175.48.6", "AS112"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "TEST-NET-2"},
		{"203.0.113.9", "TEST-NET-3"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		{"255.255.255.255", "broadcast"},
		// IPv6 Special-Purpose Address Registry, multicast, site-local,
		// and space outside 2000::/3
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::7f00:1", "IPv4-compatible"},
		{"::808:808", "IPv4-compatible"},
		{"::ffff:127.0.0.1", "IPv4-mapped address of 127.0.0.1, a loopback"},
		{"::ffff:10.1.2.3", "IPv4-mapped address of 10.1.2.3, a private"},
		{"::ffff:0:7f00:1", "reserved"}, // IPv4-translated (SIIT)
		{"64:ff9b::7f00:1", "NAT64 address of 127.0.0.1, a loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 address of 169.254.169.254, a link-local"},
		{"64:ff9b:1::808:808", "local-use NAT64"},
		{"100::1", "discard-only"},
		{"100:0:0:1::1", "dummy-prefix"},
		{"2001::1", "Teredo"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"2001:1::1", "IETF protocol assignments"},
		{"2001:1::2", "IETF protocol assignments"},
		{"2001:2::1", "benchmarking"},
		{"2001:3::1", "AMT"},
		{"2001:4:112::1", "AS112"},
		{"2001:10::1", "ORCHID (deprecated)"},
		{"2001:20::1", "ORCHIDv2"},
		{"2001:30::1", "drone remote ID"},
		{"2001:1ff:ffff::1", "IETF protocol assignments"},
		{"2001:db8::1", "documentation"},
		{"2002:7f00:1::1", "6to4 address of 127.0.0.1, a loopback"},
		{"2002:c0a8:101::1", "6to4 address of 192.168.1.1, a private"},
		{"2002:6464:6464::1", "6to4 address of 100.100.100.100, a shared (carrier-grade NAT)"},
		{"2620:4f:8000::1", "AS112"},
		{"3fff::1", "documentation"},
		{"3fff:fff:ffff::1", "documentation"},
		{"5f00::1", "segment routing"},
		{"fc00::1", "unique local"},
		{"fd12:3456::1", "unique local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"1000::1", "reserved"},
		{"4000::1", "reserved"},
		{"e000::1", "reserved"},
		// public: allowed
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.1.255", ""},
		{"192.169.0.1", ""},
		{"198.20.0.0", ""},
		{"223.255.255.255", ""},
		{"2606:4700::1111", ""},
		{"2a00:1450:4001::200e", ""},
		{"2001:200::1", ""}, // just past 2001::/23
		{"2001:db9::1", ""},
		{"3ffe:ffff::1", ""},
		{"::ffff:8.8.8.8", ""},   // IPv4-mapped of a public address
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8, as DNS64 hands out
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8
	}
	for _, tc := range cases {
		err := guardControl("tcp", netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 443).String(), nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.addr, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: allowed, want refused as %q", tc.addr, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v, want a reason containing %q", tc.addr, err, tc.want)
		case err != nil && (!errors.Is(err, errBlocked) || !strings.Contains(err.Error(), tc.addr+" is ") || !strings.HasSuffix(err.Error(), "; set allow_private_targets to deliver there")):
			t.Errorf("%s: message %q is not in the form \"… <addr> is a … address; set allow_private_targets to deliver there\"", tc.addr, err)
		}
	}
}

// TestGuardCoversTable: the first and last address of every range in the
// table are refused, with the range's own reason unless a longer range
// inside it decides; ranges that embed an IPv4 address are refused for an
// embedded loopback address and allowed for a public one.
func TestGuardCoversTable(t *testing.T) {
	for i := range specialRanges {
		r := &specialRanges[i]
		if r.embedded != nil {
			for v4, want := range map[string]bool{"127.0.0.1": true, "8.8.8.8": false} {
				a := embed(r.prefix, netip.MustParseAddr(v4))
				if got := refusal(a) != ""; got != want {
					t.Errorf("%s (%s embedding %s): refused = %v, want %v", a, r.prefix, v4, got, want)
				}
			}
			continue
		}
		first := r.prefix.Masked().Addr()
		for _, a := range []netip.Addr{first, lastOf(r.prefix)} {
			why := refusal(a)
			if why == "" {
				t.Errorf("%s (in %s) is allowed", a, r.prefix)
			} else if inner := lookup(a); inner == r && why != r.what {
				t.Errorf("%s (in %s): %q, want %q", a, r.prefix, why, r.what)
			}
		}
	}
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// embed puts v4 where a range that carries an IPv4 address keeps it.
func embed(p netip.Prefix, v4 netip.Addr) netip.Addr {
	b := p.Addr().As16()
	four := v4.As4()
	if p.Bits() == 16 { // 6to4: 2002:AABB:CCDD::
		copy(b[2:6], four[:])
	} else {
		copy(b[12:16], four[:])
	}
	return netip.AddrFrom16(b)
}
