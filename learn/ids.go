package learn

import "strings"

// maxLiteralSegment is the longest path segment kept as literal text: a
// longer one is an id (a token, a slug, an encoded blob), and keeping it
// would let one client's odd paths fill the template table with junk.
const maxLiteralSegment = 64

// isIDSegment reports whether a path segment looks like the id of a
// resource rather than a fixed part of the route. Besides the usual
// database ids (integers, UUIDs, ULIDs, Mongo ObjectIds, long hex digests),
// it accepts the other tokens that real APIs put in paths:
//
//   - prefixed ids, as Stripe and its imitators make them (cus_NffrFeUfNV2Hib,
//     pi_3MtwBwLkdIwHu7ix28a3tqPa);
//   - random tokens of 16 or more URL-safe characters that alternate between
//     letters and digits or cases (nanoid, Firebase push ids, short links);
//   - codes made mostly of digits (CMD-2026-00001, INV12345, 2024-01-05):
//     order numbers, invoice numbers and dates name one thing each;
//   - email addresses (/users/jean@example.ch);
//   - anything longer than 64 bytes.
//
// Version segments (v1, v2) and words are not ids.
func isIDSegment(s string) bool {
	switch {
	case s == "":
		return false
	case len(s) > maxLiteralSegment:
		return true
	case isDigits(s), isUUID(s), isULID(s), isHex(s) && len(s) >= 16:
		return true
	case isPrefixedID(s), isRandomToken(s), isNumericCode(s), isEmail(s):
		return true
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// isUUID accepts the 8-4-4-4-12 form, any version, any case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// isULID accepts 26 characters of Crockford's base32 (no I, L, O, U),
// starting with 0-7 (the 48-bit time), in either case, with at least one
// digit besides the first so that a 26-letter word is not an id.
func isULID(s string) bool {
	if len(s) != 26 || s[0] < '0' || s[0] > '7' {
		return false
	}
	digits := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U':
		default:
			return false
		}
	}
	return digits > 0
}

// isPrefixedID accepts prefix_rest: a lower-case prefix of 2 to 10 letters,
// then 8 or more letters and digits with a digit or an upper-case letter
// (so that created_at or user_preferences stay words).
func isPrefixedID(s string) bool {
	prefix, rest, ok := strings.Cut(s, "_")
	if !ok || len(prefix) < 2 || len(prefix) > 10 || len(rest) < 8 {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if prefix[i] < 'a' || prefix[i] > 'z' {
			return false
		}
	}
	mixed := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
			mixed = true
		case c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return mixed
}

// charClass is what isRandomToken counts changes between.
func charClass(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 1
	case c >= 'a' && c <= 'z':
		return 2
	case c >= 'A' && c <= 'Z':
		return 3
	}
	return 0
}

// isRandomToken accepts 16 or more URL-safe characters (letters, digits,
// - and _) that change between digits, lower and upper case at least four
// times: generated ids do, slugs (annual-report-2024) do not.
func isRandomToken(s string) bool {
	if len(s) < 16 {
		return false
	}
	changes, prev := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' {
			continue
		}
		k := charClass(c)
		if k == 0 {
			return false
		}
		if prev >= 0 && k != prev {
			changes++
		}
		prev = k
	}
	return changes >= 4
}

// isNumericCode accepts codes of letters, digits and - _ . : with at least
// four digits, digits making at least half of the letters and digits.
func isNumericCode(s string) bool {
	digits, letters := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		case c == '-' || c == '_' || c == '.' || c == ':':
		default:
			return false
		}
	}
	return digits >= 4 && digits >= letters
}

func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && strings.IndexByte(s[at+1:], '.') > 0 && !strings.ContainsAny(s, " \t")
}
