// Package card validates payment card details. It knows nothing of approval:
// that is the payment service's business.
package card

import (
	"fmt"
	"strings"
	"time"
)

// Details are what a customer types at checkout.
type Details struct {
	Number string `json:"number"`
	Expiry string `json:"expiry"` // MM/YY
	CVC    string `json:"cvc"`
}

// Digits returns the number without spaces or dashes.
func (d Details) Digits() string {
	return strings.NewReplacer(" ", "", "-", "").Replace(d.Number)
}

// Problems returns what is wrong, by field name (prefix + field), at time now.
func (d Details) Problems(prefix string, now time.Time) map[string]string {
	p := map[string]string{}
	if n := d.Digits(); !Luhn(n) || len(n) < 12 || len(n) > 19 {
		p[prefix+"number"] = "is not a valid card number"
	}
	var mm, yy int
	if _, err := fmt.Sscanf(d.Expiry, "%02d/%02d", &mm, &yy); err != nil || len(d.Expiry) != 5 || mm < 1 || mm > 12 {
		p[prefix+"expiry"] = "must be MM/YY"
	} else if expires := time.Date(2000+yy, time.Month(mm)+1, 1, 0, 0, 0, 0, time.UTC); !now.Before(expires) {
		p[prefix+"expiry"] = "the card has expired"
	}
	if l := len(d.CVC); l < 3 || l > 4 || strings.Trim(d.CVC, "0123456789") != "" {
		p[prefix+"cvc"] = "must be 3 or 4 digits"
	}
	return p
}

// Luhn reports whether s is all digits and passes the Luhn check.
func Luhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	for i := range len(s) {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// Last4 is what may be shown of a number.
func Last4(digits string) string {
	if len(digits) < 4 {
		return ""
	}
	return digits[len(digits)-4:]
}
