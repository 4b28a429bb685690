package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// statusSet is a compiled match.status: a bit per code 100-599.
type statusSet struct {
	bits [600/64 + 1]uint64
}

// compileStatus reads codes ("201") and classes ("2xx", "2XX"); an empty
// list means 2xx.
func compileStatus(list []string) (statusSet, error) {
	var s statusSet
	if len(list) == 0 {
		list = []string{"2xx"}
	}
	for _, v := range list {
		t := strings.TrimSpace(v)
		if len(t) == 3 && t[0] >= '1' && t[0] <= '5' && strings.EqualFold(t[1:], "xx") {
			base := int(t[0]-'0') * 100
			for c := base; c < base+100; c++ {
				s.add(c)
			}
			continue
		}
		code, err := strconv.Atoi(t)
		if err != nil || code < 100 || code > 599 || len(t) != 3 {
			return s, fmt.Errorf("bad status %q: want a code 100-599 or a class 1xx-5xx", v)
		}
		s.add(code)
	}
	return s, nil
}

func (s *statusSet) add(code int) { s.bits[code/64] |= 1 << (code % 64) }

func (s *statusSet) has(code int) bool {
	if code < 100 || code > 599 {
		return false
	}
	return s.bits[code/64]&(1<<(code%64)) != 0
}
