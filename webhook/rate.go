package webhook

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxRateCount is the largest count a rate limit may give.
const MaxRateCount = 999_999_999

// Rate is a rate limit: at most N deliveries in any window of Per.
type Rate struct {
	N   int
	Per time.Duration
}

var ratePeriods = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}

// ParseRate reads a rate limit written as a count per second, minute or
// hour: 10/s, 100/m, 1000/h.
func ParseRate(s string) (Rate, error) {
	count, unit, ok := strings.Cut(s, "/")
	per, known := ratePeriods[unit]
	n, err := strconv.Atoi(count)
	if !ok || !known || err != nil || n < 1 || n > MaxRateCount || count[0] == '+' || count[0] == '0' {
		return Rate{}, fmt.Errorf("%q is not like 100/m (a count of 1 to %d per s, m or h)", s, MaxRateCount)
	}
	return Rate{N: n, Per: per}, nil
}

// String writes the rate as ParseRate reads it.
func (r Rate) String() string {
	for unit, per := range ratePeriods {
		if per == r.Per {
			return strconv.Itoa(r.N) + "/" + unit
		}
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}
