package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/crypto/bcrypt"
)

// passwordChecks counts the passwords compared with bcrypt: the cost that
// the sign-in limiter bounds, for Prometheus.
var passwordChecks = promauto.NewCounter(prometheus.CounterOpts{
	Name: "identity_password_checks_total",
	Help: "Passwords compared with bcrypt (sign-ins that got past the limiter).",
})

// bcryptPasswords implements Passwords with bcrypt.
type bcryptPasswords struct{ cost int }

// Hash implements Passwords; bcrypt refuses more than maxPasswordBytes,
// which Registration.Valid refuses first.
func (b bcryptPasswords) Hash(password string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(password), b.cost)
}

// Matches implements Passwords. A password longer than bcrypt reads never
// matches: bcrypt would compare only its first maxPasswordBytes.
func (b bcryptPasswords) Matches(hash []byte, password string) bool {
	passwordChecks.Inc()
	return len(password) <= maxPasswordBytes && bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}
