package main

import (
	"time"

	"github.com/bazaar-shop/bazaar/internal/limit"
)

// signInWindow is how long failed sign-ins are remembered; a client told to
// wait is told to wait that long.
const signInWindow = 5 * time.Minute

// newLimiter limits sign-in attempts: 5 per account and 100 per client
// address in each window, counted in counts (identity's state store, which
// every replica shares).
func newLimiter(counts limit.Counts) *limit.Window {
	return limit.New(signInWindow, map[string]int{"account": 5, "client": 100}, counts)
}
