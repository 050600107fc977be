package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
	"github.com/bazaar-shop/bazaar/internal/limit"
)

// memUsers is an in-memory Users.
type memUsers struct {
	mu    sync.Mutex
	users map[string]User
	fail  error
}

func (m *memUsers) Get(_ context.Context, email string) (User, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[strings.ToLower(email)]
	return u, ok, m.fail
}

func (m *memUsers) ByID(_ context.Context, id string) (User, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.ID == id {
			return u, true, m.fail
		}
	}
	return User{}, false, m.fail
}

func (m *memUsers) Create(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.users[u.Email]; ok {
		return ErrEmailTaken
	}
	m.users[u.Email] = u
	return nil
}

// fakeKeys signs a token that names the user.
type fakeKeys struct {
	rotations int
	revoked   []string
}

func (k *fakeKeys) Sign(u User) (string, time.Time, error) {
	return "token-for-" + u.ID, time.Unix(1_900_000_000, 0), nil
}
func (k *fakeKeys) Rotate(context.Context) error { k.rotations++; return nil }
func (k *fakeKeys) List() []KeyInfo {
	return []KeyInfo{{Kid: "k2", Signing: true}, {Kid: "k1"}}
}
func (k *fakeKeys) Revoke(_ context.Context, kid string) error {
	if kid == "unknown" {
		return ErrUnknownKey
	}
	k.revoked = append(k.revoked, kid)
	return nil
}
func (k *fakeKeys) JWKS(context.Context) (authn.JWKS, error) {
	return authn.JWKS{}, nil
}

// fakeVerifier knows the tokens in its map.
type fakeVerifier map[string]authn.Claims

func (v fakeVerifier) Verify(_ context.Context, token string) (authn.Claims, error) {
	c, ok := v[token]
	if !ok {
		return c, authn.ErrInvalidToken
	}
	return c, nil
}

// fakePasswords "hashes" by prefixing, and counts the checks: the costly
// bcrypt comparisons that the limiter exists to ration.
type fakePasswords struct {
	checks atomic.Int32
	// slow makes each check take a while, as bcrypt does, so that parallel
	// attempts overlap.
	slow time.Duration
}

func (p *fakePasswords) Hash(password string) ([]byte, error) {
	if len(password) > maxPasswordBytes {
		return nil, bcrypt.ErrPasswordTooLong // as bcrypt does
	}
	return []byte("hash:" + password), nil
}

func (p *fakePasswords) Matches(hash []byte, password string) bool {
	p.checks.Add(1)
	time.Sleep(p.slow)
	return string(hash) == "hash:"+password
}

const annPassword = "correct horse battery"

type fixture struct {
	accounts  *Accounts
	sessions  *sessionStore
	users     *memUsers
	keys      *fakeKeys
	passwords *fakePasswords
	limits    *limit.Window
}

// newFixture is Accounts over fakes, with ann@example.com registered.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{users: &memUsers{users: map[string]User{}}, keys: &fakeKeys{}, passwords: &fakePasswords{}, limits: newLimiter(limit.NewMemory()),
		sessions: &sessionStore{dapr: &memoryState{value: map[string][]byte{}, etag: map[string]int{}}, store: stateStore, now: time.Now}}
	in := jwt.NewNumericDate(time.Now().Add(10 * time.Minute))
	verifier := fakeVerifier{
		"customer": {Name: "Ann", Roles: []string{roleCustomer}, RegisteredClaims: jwt.RegisteredClaims{ID: "ann-1", ExpiresAt: in}},
		"admin":    {Name: "Root", Roles: []string{roleAdmin, roleCustomer}, RegisteredClaims: jwt.RegisteredClaims{ID: "root-1", ExpiresAt: in}},
	}
	var err error
	f.accounts, err = NewAccounts(f.users, f.keys, f.sessions, verifier, f.passwords, f.limits)
	require.NoError(t, err)
	_, err = f.accounts.Register(context.Background(), Registration{Email: "ann@example.com", Password: annPassword, Name: "Ann"})
	require.NoError(t, err)
	return f
}

func TestRegistrationValid(t *testing.T) {
	const email = "ann@example.com"
	tests := []struct {
		name     string
		reg      Registration
		field    string // "" when valid
		contains string
	}{
		{name: "valid", reg: Registration{Email: email, Name: "Ann", Password: annPassword}},
		{name: "72 ASCII bytes", reg: Registration{Email: email, Name: "Ann", Password: strings.Repeat("a", 72)}},
		{name: "24 three-byte characters are 72 bytes", reg: Registration{Email: email, Name: "Ann", Password: strings.Repeat("€", 24)}},
		{name: "not an address", reg: Registration{Email: "ann", Name: "Ann", Password: annPassword}, field: "email"},
		{name: "address with a display name", reg: Registration{Email: "Ann <ann@example.com>", Name: "Ann", Password: annPassword}, field: "email"},
		{name: "blank name", reg: Registration{Email: email, Name: "  ", Password: annPassword}, field: "name"},
		{name: "101-character name", reg: Registration{Email: email, Name: strings.Repeat("n", 101), Password: annPassword}, field: "name"},
		{name: "11 characters", reg: Registration{Email: email, Name: "Ann", Password: strings.Repeat("a", 11)}, field: "password", contains: "at least 12 characters"},
		{name: "100 ASCII characters (issue 11)", reg: Registration{Email: email, Name: "Ann", Password: strings.Repeat("a", 100)},
			field: "password", contains: "72 bytes"},
		{name: "73 ASCII bytes", reg: Registration{Email: email, Name: "Ann", Password: strings.Repeat("a", 73)}, field: "password", contains: "72 bytes"},
		{name: "40 multi-byte characters, 80 bytes (issue 11)", reg: Registration{Email: email, Name: "Ann", Password: strings.Repeat("é", 40)},
			field: "password", contains: "72 bytes"},
		{name: "the address as password", reg: Registration{Email: "ann.long.name@example.com", Name: "Ann", Password: "ANN.long.name@example.com"},
			field: "password", contains: "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := tt.reg.Valid(context.Background())
			if tt.field == "" {
				assert.Empty(t, problems)
				return
			}
			require.Contains(t, problems, tt.field)
			assert.Len(t, problems, 1)
			assert.Contains(t, problems[tt.field], tt.contains)
		})
	}
}

func TestRegister(t *testing.T) {
	ctx := context.Background()
	t.Run("a customer, by lower-cased email and trimmed name", func(t *testing.T) {
		f := newFixture(t)
		u, err := f.accounts.Register(ctx, Registration{Email: "Bob@Example.com", Password: "bobs long password", Name: " Bob "})
		require.NoError(t, err)
		assert.Equal(t, "bob@example.com", u.Email)
		assert.Equal(t, "Bob", u.Name)
		assert.Equal(t, []string{roleCustomer}, u.Roles)
		assert.NotEmpty(t, u.ID)
		assert.Equal(t, u, f.users.users["bob@example.com"])
		assert.Equal(t, "hash:bobs long password", string(u.Hash), "stored as the hasher made it")
	})
	t.Run("a password bcrypt cannot take is a field error, not a fault (issue 11)", func(t *testing.T) {
		for _, pw := range []string{strings.Repeat("x", 100), strings.Repeat("ü", 40)} {
			f := newFixture(t)
			_, err := f.accounts.Register(ctx, Registration{Email: "bob@example.com", Password: pw, Name: "Bob"})
			var invalid *InvalidError
			require.ErrorAs(t, err, &invalid)
			assert.Contains(t, invalid.Fields["password"], "at most 72 bytes")
			var e *httpapi.Error
			require.ErrorAs(t, problem(err), &e)
			assert.Equal(t, http.StatusUnprocessableEntity, e.Status)
			assert.Equal(t, "invalid_input", e.Code)
			assert.NotContains(t, f.users.users, "bob@example.com")
		}
	})
	t.Run("the email is taken, whatever its case", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.accounts.Register(ctx, Registration{Email: "ANN@example.com", Password: "another long password", Name: "Ann 2"})
		assert.ErrorIs(t, err, ErrEmailTaken)
		assert.Equal(t, "Ann", f.users.users["ann@example.com"].Name)
	})
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	require.NoError(t, f.accounts.EnsureAdmin(ctx, "root@example.com", "the admin password"))
	admin := f.users.users["root@example.com"]
	assert.Equal(t, []string{roleAdmin, roleCustomer}, admin.Roles)
	require.NoError(t, f.accounts.EnsureAdmin(ctx, "root@example.com", "another password"), "once only")
	assert.Equal(t, admin, f.users.users["root@example.com"])
	require.NoError(t, f.accounts.EnsureAdmin(ctx, "ann@example.com", "the admin password"), "an existing account stays as it is")
	assert.Equal(t, []string{roleCustomer}, f.users.users["ann@example.com"].Roles)
}

func TestSignIn(t *testing.T) {
	ctx := context.Background()
	down := errors.New("store down")
	tests := []struct {
		name string
		// before runs first: earlier attempts, a failing store.
		before     func(t *testing.T, f *fixture)
		email, pw  string
		wantErr    error
		wantChecks int32 // password checks of this attempt
	}{
		{name: "right password", email: "ann@example.com", pw: annPassword, wantChecks: 1},
		{name: "email in any case", email: "Ann@Example.COM", pw: annPassword, wantChecks: 1},
		{name: "wrong password", email: "ann@example.com", pw: "wrong password!", wantErr: ErrInvalidCredentials, wantChecks: 1},
		{name: "unknown email: same answer, same cost", email: "nobody@example.com", pw: annPassword, wantErr: ErrInvalidCredentials, wantChecks: 1},
		{name: "missing password", email: "ann@example.com", pw: "", wantErr: &InvalidError{}},
		{name: "sixth attempt: refused before any check", before: fail(5), email: "ann@example.com", pw: "wrong password!", wantErr: ErrTooManyAttempts},
		{name: "blocked: even the right password waits", before: fail(5), email: "ann@example.com", pw: annPassword, wantErr: ErrTooManyAttempts},
		{name: "four failures leave one attempt", before: fail(4), email: "ann@example.com", pw: annPassword, wantChecks: 1},
		{name: "a right password clears the failures", before: func(t *testing.T, f *fixture) {
			fail(4)(t, f)
			_, err := f.accounts.SignIn(ctx, Credentials{Email: "ann@example.com", Password: annPassword}, "")
			require.NoError(t, err)
			fail(4)(t, f)
		}, email: "ann@example.com", pw: annPassword, wantChecks: 1},
		{name: "a failing store costs no attempt", before: func(t *testing.T, f *fixture) {
			f.users.fail = down
			for range 10 {
				_, err := f.accounts.SignIn(ctx, Credentials{Email: "ann@example.com", Password: annPassword}, "10.0.0.1")
				require.ErrorIs(t, err, down)
			}
			f.users.fail = nil
		}, email: "ann@example.com", pw: annPassword, wantChecks: 1},
		{name: "the window passes", before: func(t *testing.T, f *fixture) {
			fail(5)(t, f)
			now := time.Now().Add(signInWindow + time.Second)
			f.limits.Now = func() time.Time { return now }
		}, email: "ann@example.com", pw: annPassword, wantChecks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.before != nil {
				tt.before(t, f)
			}
			checks := f.passwords.checks.Load()
			s, err := f.accounts.SignIn(ctx, Credentials{Email: tt.email, Password: tt.pw}, "10.0.0.1")
			assert.Equal(t, tt.wantChecks, f.passwords.checks.Load()-checks, "password checks")
			var invalid *InvalidError
			switch {
			case errors.As(tt.wantErr, &invalid):
				assert.ErrorAs(t, err, &invalid)
			case tt.wantErr != nil:
				assert.ErrorIs(t, err, tt.wantErr)
			default:
				require.NoError(t, err)
				assert.Equal(t, "token-for-"+f.users.users["ann@example.com"].ID, s.Token)
			}
		})
	}
}

// fail makes n wrong-password attempts at Ann's account.
func fail(n int) func(t *testing.T, f *fixture) {
	return func(t *testing.T, f *fixture) {
		for range n {
			_, err := f.accounts.SignIn(context.Background(), Credentials{Email: "ann@example.com", Password: "wrong password!"}, "10.0.0.1")
			require.ErrorIs(t, err, ErrInvalidCredentials)
		}
	}
}

// TestSignInLimitHoldsUnderParallelGuesses is issue 11's finding: 40
// parallel wrong passwords at one account let 6 reach bcrypt with a limit
// of 5, because the limiter checked before and counted after.
func TestSignInLimitHoldsUnderParallelGuesses(t *testing.T) {
	f := newFixture(t)
	f.passwords.slow = 2 * time.Millisecond
	limit := f.limits.Limits["account"]
	before := f.passwords.checks.Load()
	var wg sync.WaitGroup
	var refused, wrong atomic.Int32
	start := make(chan struct{})
	for i := range 40 {
		wg.Go(func() {
			<-start
			_, err := f.accounts.SignIn(context.Background(), Credentials{Email: "ann@example.com", Password: "wrong password!"},
				fmt.Sprintf("10.0.0.%d", i))
			switch {
			case errors.Is(err, ErrTooManyAttempts):
				refused.Add(1)
			case errors.Is(err, ErrInvalidCredentials):
				wrong.Add(1)
			default:
				t.Errorf("unexpected answer: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.LessOrEqual(t, int(f.passwords.checks.Load()-before), limit, "bcrypt comparisons")
	assert.Equal(t, int32(limit), wrong.Load())
	assert.Equal(t, int32(40-limit), refused.Load())
}

func TestClientLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.limits.Limits["client"] = 3
	guess := func(email, client string) error {
		_, err := f.accounts.SignIn(ctx, Credentials{Email: email, Password: "wrong password!"}, client)
		return err
	}
	for i := range 3 {
		require.ErrorIs(t, guess(fmt.Sprintf("user%d@example.com", i), "10.0.0.1"), ErrInvalidCredentials)
	}
	assert.ErrorIs(t, guess("userz@example.com", "10.0.0.1"), ErrTooManyAttempts, "one client guessing across accounts")
	assert.ErrorIs(t, guess("userz@example.com", "10.0.0.2"), ErrInvalidCredentials, "another client is not held back")
	// The refused attempt took nothing from the account: a blocked client
	// must not lock the account out for others.
	n, err := f.limits.Count(ctx, "account", "userz@example.com")
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	// Right passwords cost a client nothing.
	f = newFixture(t)
	f.limits.Limits["client"] = 3
	for range 10 {
		_, err := f.accounts.SignIn(ctx, Credentials{Email: "ann@example.com", Password: annPassword}, "10.0.0.1")
		require.NoError(t, err)
	}
}

func TestVerifyAndRotate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		token     string
		wantErr   error
		rotations int
	}{
		{token: "admin", rotations: 1},
		{token: "customer", wantErr: ErrAdminOnly},
		{token: "forged", wantErr: ErrInvalidToken},
		{token: "", wantErr: ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			f := newFixture(t)
			err := f.accounts.RotateKeys(ctx, tt.token)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.rotations, f.keys.rotations)
		})
	}
}

func TestRevokeKey(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, token, kid string
		wantErr          error
		revoked          []string
	}{
		{"an admin revokes", "admin", "k1", nil, []string{"k1"}},
		{"an unknown key", "admin", "unknown", ErrUnknownKey, nil},
		{"a customer may not", "customer", "k1", ErrAdminOnly, nil},
		{"nor a forger", "forged", "k1", ErrInvalidToken, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			err := f.accounts.RevokeKey(ctx, tt.token, tt.kid)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.revoked, f.keys.revoked)
		})
	}
}

func TestProblem(t *testing.T) {
	internal := errors.New("store down")
	tests := []struct {
		err    error
		status int
		code   string
		field  string
	}{
		{&InvalidError{Fields: map[string]string{"password": "x"}}, 422, "invalid_input", "password"},
		{ErrEmailTaken, 409, "email_taken", "email"},
		{ErrInvalidCredentials, 401, "invalid_credentials", ""},
		{ErrTooManyAttempts, 429, "too_many_attempts", ""},
		{errors.Join(ErrInvalidToken, authn.ErrInvalidToken), 401, "invalid_token", ""},
		{ErrAdminOnly, 403, "admin_only", ""},
		{ErrNotReady, 503, "starting", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			var e *httpapi.Error
			require.ErrorAs(t, problem(tt.err), &e)
			assert.Equal(t, tt.status, e.Status)
			assert.Equal(t, tt.code, e.Code)
			assert.NotEmpty(t, e.Detail)
			if tt.field != "" {
				assert.Contains(t, e.Fields, tt.field)
			}
		})
	}
	assert.Same(t, internal, problem(internal), "anything else stays a 500 without detail")
}

func TestBcryptPasswords(t *testing.T) {
	p := bcryptPasswords{cost: bcrypt.MinCost}
	pw := strings.Repeat("a", maxPasswordBytes)
	hash, err := p.Hash(pw)
	require.NoError(t, err)
	assert.True(t, p.Matches(hash, pw))
	assert.False(t, p.Matches(hash, pw+"b"), "bcrypt would read only the first 72 bytes")
	assert.False(t, p.Matches(hash, "wrong"))
}

// The forms and the API answer the 100-character password alike: a 422
// with the reason next to the password field, not a 500.
func TestLongPasswordAnswers(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	long := strings.Repeat("p", 100)

	t.Run("API", func(t *testing.T) {
		f := newFixture(t)
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"email":"bob@example.com","name":"Bob","password":"`+long+`"}`))
		register(log, f.accounts).ServeHTTP(w, r)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Contains(t, w.Body.String(), `"code":"invalid_input"`)
		assert.Contains(t, w.Body.String(), `"password":"must be at most 72 bytes`)
	})
	t.Run("form", func(t *testing.T) {
		f := newFixture(t)
		form := url.Values{"email": {"bob@example.com"}, "name": {"Bob"}, "password": {long}, "page": {"/register"}}
		r := httptest.NewRequest(http.MethodPost, "/fragments/register", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		registerForm(log, newFragments(), f.accounts).ServeHTTP(w, r)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		doc, err := goquery.NewDocumentFromReader(w.Body)
		require.NoError(t, err)
		assert.Contains(t, doc.Find("#identity-register-password-error").Text(), "Password must be at most 72 bytes")
		assert.Equal(t, "bob@example.com", doc.Find("#identity-register-email").AttrOr("value", ""), "what was typed stays")
	})
	t.Run("form, email taken: the API's code, the form's message", func(t *testing.T) {
		f := newFixture(t)
		form := url.Values{"email": {"ann@example.com"}, "name": {"Ann"}, "password": {annPassword}, "page": {"/register"}}
		r := httptest.NewRequest(http.MethodPost, "/fragments/register", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		registerForm(log, newFragments(), f.accounts).ServeHTTP(w, r)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		assert.Contains(t, w.Body.String(), "has an account already: sign in instead")
	})
	t.Run("sign-in form, wrong password", func(t *testing.T) {
		f := newFixture(t)
		form := url.Values{"email": {"ann@example.com"}, "password": {"wrong password!"}, "page": {"/sign-in"}}
		r := httptest.NewRequest(http.MethodPost, "/fragments/sign-in", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		signInForm(log, newFragments(), f.accounts).ServeHTTP(w, r)
		assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
		doc, err := goquery.NewDocumentFromReader(w.Body)
		require.NoError(t, err)
		assert.Equal(t, "Wrong email or password.", doc.Find(`[role="alert"]`).Text())
	})
}

func TestSignOut(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.accounts.SignOut(ctx, "customer"))
	require.NoError(t, f.accounts.SignOut(ctx, "customer"), "twice is once")
	require.NoError(t, f.accounts.SignOut(ctx, "not a token"), "a bad token has no session to end")
	ended, err := f.accounts.SignedOut(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"ann-1"}, ended)

	// Once its token has expired a session leaves the list.
	require.NoError(t, f.sessions.End(ctx, "old", time.Now().Add(time.Minute)))
	f.sessions.now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	require.NoError(t, f.accounts.SignOut(ctx, "admin"))
	ended, err = f.accounts.SignedOut(ctx)
	require.NoError(t, err)
	assert.Empty(t, ended, "every token has expired by then")
}
