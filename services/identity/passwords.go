package main

import "golang.org/x/crypto/bcrypt"

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
	return len(password) <= maxPasswordBytes && bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}
