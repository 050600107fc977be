// Package money holds Bazaar's one representation of an amount of money:
// integer minor units plus an ISO 4217 currency, never floating point.
package money

import "fmt"

// Money is an amount in minor units (cents) of Currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// EUR is the shop's currency.
func EUR(cents int64) Money { return Money{Amount: cents, Currency: "EUR"} }

// Times multiplies the amount by n.
func (m Money) Times(n int) Money { return Money{Amount: m.Amount * int64(n), Currency: m.Currency} }

// Plus adds o, which must be in the same currency.
func (m Money) Plus(o Money) (Money, error) {
	if m.Currency == "" {
		return o, nil
	}
	if o.Currency != m.Currency {
		return m, fmt.Errorf("cannot add %s to %s", o.Currency, m.Currency)
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// String formats the amount for people, e.g. "€12.50".
func (m Money) String() string {
	sign := ""
	a := m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	symbol := m.Currency + " "
	if m.Currency == "EUR" {
		symbol = "€"
	}
	return fmt.Sprintf("%s%s%d.%02d", sign, symbol, a/100, a%100)
}
