package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/limit"
)

// The identity domain: accounts, the rules for registering and signing in,
// the tokens that sessions are, and its errors. The JSON API (handlers.go)
// and the forms (fragments.go) both call Accounts; it knows nothing of HTTP
// or Dapr.

// User is a registered account, as stored.
type User struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	Hash  []byte   `json:"hash"`
}

// Roles a user may have; authn.Claims.IsAdmin reads the admin role.
const (
	roleCustomer = "customer"
	roleAdmin    = "admin"
)

// Domain errors; errors.go maps them to HTTP, once for the API and the forms.
var (
	ErrEmailTaken = errors.New("email taken")
	// ErrInvalidCredentials is the one answer for an unknown email and a
	// wrong password, so that sign-in does not tell which accounts exist.
	ErrInvalidCredentials = errors.New("wrong email or password")
	ErrTooManyAttempts    = errors.New("too many sign-in attempts")
	ErrInvalidToken       = errors.New("invalid token")
	ErrAdminOnly          = errors.New("admin only")
	ErrUnknownUser        = errors.New("no such account")
	// ErrNotReady means the signing keys are not loaded yet (start-up).
	ErrNotReady = errors.New("no signing key yet")
)

// InvalidError lists what is wrong with an input, by field.
type InvalidError struct{ Fields map[string]string }

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid input: %v", e.Fields) }

// Users keeps accounts by email, case-insensitively (store.go implements it
// over Dapr state).
type Users interface {
	Get(ctx context.Context, email string) (User, bool, error)
	// ByID finds an account by its id (false when there is none).
	ByID(ctx context.Context, id string) (User, bool, error)
	// Create stores a new account, or returns ErrEmailTaken.
	Create(ctx context.Context, u User) error
}

// Keys signs tokens and publishes the keys that verify them (keyRing).
type Keys interface {
	// Sign returns a token for u and when it expires, or ErrNotReady.
	Sign(u User) (string, time.Time, error)
	Rotate(ctx context.Context) error
	// Revoke takes a key out of use at once (ErrUnknownKey if none).
	Revoke(ctx context.Context, kid string) error
	// List is the ring, the signing key first.
	List() []KeyInfo
	// JWKS returns the public keys, or ErrNotReady.
	JWKS(ctx context.Context) (authn.JWKS, error)
}

// Sessions remembers the sessions signed out before their tokens expired
// (sessionStore), so that every verifier refuses those tokens.
type Sessions interface {
	// End adds a session (a token's jti) until its token expires.
	End(ctx context.Context, id string, expires time.Time) error
	// Ended lists the sessions signed out whose tokens have not expired.
	Ended(ctx context.Context) ([]string, error)
}

// Verifier checks a token (authn.Verifier).
type Verifier interface {
	Verify(ctx context.Context, token string) (authn.Claims, error)
}

// Passwords hashes and checks passwords (bcrypt in production); tests count
// the checks through it.
type Passwords interface {
	Hash(password string) ([]byte, error)
	Matches(hash []byte, password string) bool
}

// Limits of an account's fields.
const (
	minPasswordChars = 12
	// maxPasswordBytes is as much as bcrypt reads: a longer password would
	// be cut silently (and bcrypt refuses to hash it).
	maxPasswordBytes = 72
	maxEmailBytes    = 254
	maxNameChars     = 100
	// maxCredentialBytes bounds a sign-in's password before anything
	// hashes it.
	maxCredentialBytes = 128
)

// passwordHint is the password rule as the registration form shows it.
const passwordHint = "At least 12 characters, at most 72 bytes."

// Registration is a new account as a visitor asks for it (POST /register,
// the registration form).
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Valid lists what is wrong, by field (httpapi.Validator): a real-looking
// address, a name, and a password of at least 12 characters that bcrypt
// can take whole and that is not the address.
func (r Registration) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email || len(r.Email) > maxEmailBytes {
		p["email"] = "must be an email address"
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(r.Name)); n == 0 || n > maxNameChars {
		p["name"] = fmt.Sprintf("must be 1 to %d characters", maxNameChars)
	}
	switch {
	case utf8.RuneCountInString(r.Password) < minPasswordChars:
		p["password"] = fmt.Sprintf("must be at least %d characters", minPasswordChars)
	case len(r.Password) > maxPasswordBytes:
		p["password"] = fmt.Sprintf("must be at most %d bytes (letters with accents, symbols and emoji take 2 to 4 bytes each)", maxPasswordBytes)
	case strings.EqualFold(r.Password, r.Email):
		p["password"] = "must not be your email address"
	}
	return p
}

// Credentials are what a user signs in with (POST /login, the sign-in form).
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Valid implements httpapi.Validator: both are required, neither huge.
func (c Credentials) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if c.Email == "" || len(c.Email) > maxEmailBytes {
		p["email"] = "is required"
	}
	if c.Password == "" || len(c.Password) > maxCredentialBytes {
		p["password"] = "is required"
	}
	return p
}

// Session is a signed-in user's token and when it expires.
type Session struct {
	Token   string
	Expires time.Time
}

// Accounts registers users, signs them in and checks their tokens.
type Accounts struct {
	users     Users
	keys      Keys
	sessions  Sessions
	verifier  Verifier
	passwords Passwords
	limits    *limit.Window
	// dummyHash keeps a sign-in for an unknown email as slow as one with a
	// wrong password, so timing does not tell which accounts exist.
	dummyHash []byte
}

// NewAccounts makes the service; it hashes once for dummyHash.
func NewAccounts(users Users, keys Keys, sessions Sessions, verifier Verifier, passwords Passwords, limits *limit.Window) (*Accounts, error) {
	dummy, err := passwords.Hash("not a real password")
	if err != nil {
		return nil, err
	}
	return &Accounts{users: users, keys: keys, sessions: sessions, verifier: verifier, passwords: passwords, limits: limits, dummyHash: dummy}, nil
}

// Register creates a customer's account; the email must be new.
func (a *Accounts) Register(ctx context.Context, r Registration) (User, error) {
	if p := r.Valid(ctx); len(p) > 0 {
		return User{}, &InvalidError{Fields: p}
	}
	return a.create(ctx, r.Email, strings.TrimSpace(r.Name), r.Password, []string{roleCustomer})
}

// EnsureAdmin creates the first admin once, from the installation's
// secrets; an existing account of that email is left as it is.
func (a *Accounts) EnsureAdmin(ctx context.Context, email, password string) error {
	if _, exists, err := a.users.Get(ctx, email); err != nil || exists {
		return err
	}
	_, err := a.create(ctx, email, "Admin", password, []string{roleAdmin, roleCustomer})
	if errors.Is(err, ErrEmailTaken) {
		return nil
	}
	return err
}

func (a *Accounts) create(ctx context.Context, email, name, password string, roles []string) (User, error) {
	hash, err := a.passwords.Hash(password)
	if err != nil {
		return User{}, err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	u := User{ID: hex.EncodeToString(id), Email: strings.ToLower(email), Name: name, Roles: roles, Hash: hash}
	if err := a.users.Create(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}

// SignIn checks the credentials and opens a session. Attempts are limited
// per account and per client address (client is "" for a call from
// another service): each attempt takes a slot before the password is
// checked, so parallel guesses cannot get past the limit.
func (a *Accounts) SignIn(ctx context.Context, c Credentials, client string) (Session, error) {
	if p := c.Valid(ctx); len(p) > 0 {
		return Session{}, &InvalidError{Fields: p}
	}
	account := strings.ToLower(c.Email)
	keys := map[string]string{"account": account}
	if client != "" {
		keys["client"] = client
	}
	if ok, err := a.limits.Take(ctx, keys); err != nil {
		return Session{}, err
	} else if !ok {
		return Session{}, ErrTooManyAttempts
	}
	u, ok, err := a.check(ctx, account, c.Password)
	if err != nil {
		// Only wrong passwords count: a failing store must not lock
		// anyone out.
		a.limits.Release(ctx, keys)
		return Session{}, err
	}
	if !ok {
		return Session{}, ErrInvalidCredentials
	}
	a.limits.Release(ctx, keys)
	// Best effort: the count left behind ends with its window.
	_ = a.limits.Forget(ctx, "account", account)
	return a.Issue(u)
}

// check returns the account if password is its password.
func (a *Accounts) check(ctx context.Context, email, password string) (User, bool, error) {
	u, ok, err := a.users.Get(ctx, email)
	if err != nil {
		return User{}, false, err
	}
	hash := a.dummyHash
	if ok {
		hash = u.Hash
	}
	match := a.passwords.Matches(hash, password)
	return u, ok && match, nil
}

// Issue opens a session for u: a signed, short-lived token.
func (a *Accounts) Issue(u User) (Session, error) {
	token, exp, err := a.keys.Sign(u)
	if err != nil {
		return Session{}, err
	}
	return Session{Token: token, Expires: exp}, nil
}

// Verify returns who token is for. Why it is refused stays in here: the
// caller only learns that it is.
func (a *Accounts) Verify(ctx context.Context, token string) (authn.Claims, error) {
	c, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return c, nil
}

// SignOut ends token's session: every verifier refuses the token within
// authn.KeyRefresh, wherever it was copied. A token that does not verify
// (expired, say) has nothing left to end.
func (a *Accounts) SignOut(ctx context.Context, token string) error {
	c, err := a.Verify(ctx, token)
	if err != nil {
		return nil
	}
	return a.sessions.End(ctx, c.ID, c.ExpiresAt.Time)
}

// SignedOut lists the sessions signed out whose tokens have not expired,
// for every verifier. Like a certificate revocation list it is public: an
// id names a token that no longer works.
func (a *Accounts) SignedOut(ctx context.Context) ([]string, error) {
	return a.sessions.Ended(ctx)
}

// RotateKeys starts signing with a new key; only an admin may. Tokens
// signed with the previous key keep verifying until they expire.
func (a *Accounts) RotateKeys(ctx context.Context, token string) error {
	c, err := a.Verify(ctx, token)
	if err != nil {
		return err
	}
	if !c.IsAdmin() {
		return ErrAdminOnly
	}
	return a.keys.Rotate(ctx)
}

// KeyInfo describes a key of the ring, for admins.
type KeyInfo struct {
	Kid     string
	Created time.Time
	Signing bool // the key new tokens are signed with; the others only verify
}

// SigningKeys lists the keys that verify tokens; only an admin may.
func (a *Accounts) SigningKeys(ctx context.Context, token string) ([]KeyInfo, error) {
	c, err := a.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if !c.IsAdmin() {
		return nil, ErrAdminOnly
	}
	return a.keys.List(), nil
}

// RevokeKey takes a signing key out of use at once, for when it leaked;
// only an admin may. Every token it signed is refused within
// authn.KeyRefresh everywhere, the caller's own included.
func (a *Accounts) RevokeKey(ctx context.Context, token, kid string) error {
	c, err := a.Verify(ctx, token)
	if err != nil {
		return err
	}
	if !c.IsAdmin() {
		return ErrAdminOnly
	}
	return a.keys.Revoke(ctx, kid)
}

// Contact is how to reach the account with the given id (for the
// notification service, which the access policy alone lets ask), or
// ErrUnknownUser.
func (a *Accounts) Contact(ctx context.Context, id string) (contracts.Contact, error) {
	u, ok, err := a.users.ByID(ctx, id)
	if err != nil {
		return contracts.Contact{}, err
	}
	if !ok {
		return contracts.Contact{}, ErrUnknownUser
	}
	return contracts.Contact{Email: u.Email, Name: u.Name}, nil
}

// PublicKeys are the keys that verify tokens, for every verifier.
func (a *Accounts) PublicKeys(ctx context.Context) (authn.JWKS, error) {
	return a.keys.JWKS(ctx)
}
