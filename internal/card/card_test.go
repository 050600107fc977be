package card

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{"4242424242424242": true, "4000000000000002": true, "4242424242424241": false,
		"": false, "42a2": false, "0": true} {
		assert.Equal(t, want, Luhn(s), s)
	}
}

func TestProblems(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	ok := Details{Number: "4242 4242 4242 4242", Expiry: "11/26", CVC: "123"}
	assert.Empty(t, ok.Problems("card.", now))
	bad := Details{Number: "4242 4242 4242 4241", Expiry: "10/26", CVC: "12x"}
	assert.Equal(t, map[string]string{"card.number": "is not a valid card number", "card.expiry": "the card has expired",
		"card.cvc": "must be 3 or 4 digits"}, bad.Problems("card.", now))
	assert.Contains(t, Details{Number: "4242424242424242", Expiry: "13/30", CVC: "123"}.Problems("", now), "expiry")
	assert.Contains(t, Details{Number: "4242424242424242", Expiry: "1/30", CVC: "123"}.Problems("", now), "expiry")
}
