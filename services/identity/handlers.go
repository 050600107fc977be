package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// CookieName is the browser session cookie: the token itself, HttpOnly.
// Like every cookie of a service, it starts with the service's name.
const CookieName = "identity_session"

// Registration is the body of POST /register.
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Valid implements httpapi.Validator: a real-looking address, a name, and a
// password of 12 to 128 characters that is not the address.
func (r Registration) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email || len(r.Email) > 254 {
		p["email"] = "must be an email address"
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(r.Name)); n == 0 || n > 100 {
		p["name"] = "must be 1 to 100 characters"
	}
	if n := utf8.RuneCountInString(r.Password); n < 12 || n > 128 {
		p["password"] = "must be 12 to 128 characters"
	} else if strings.EqualFold(r.Password, r.Email) {
		p["password"] = "must not be your email address"
	}
	return p
}

// Account is how the API shows a user.
type Account struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
}

func register(log *slog.Logger, users *userStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := httpapi.Decode[Registration](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		u, err := users.create(r.Context(), req.Email, strings.TrimSpace(req.Name), req.Password, []string{"customer"})
		if errors.Is(err, errEmailTaken) {
			httpapi.Fail(w, r, log, &httpapi.Error{Status: http.StatusConflict, Code: "email_taken",
				Detail: "an account with this email exists", Fields: map[string]string{"email": "is taken"}})
			return
		}
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusCreated, Account{ID: u.ID, Email: u.Email, Name: u.Name})
	})
}

// Credentials is the body of POST /login.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Valid implements httpapi.Validator.
func (c Credentials) Valid(context.Context) map[string]string {
	p := map[string]string{}
	if c.Email == "" || len(c.Email) > 254 {
		p["email"] = "is required"
	}
	if c.Password == "" || len(c.Password) > 128 {
		p["password"] = "is required"
	}
	return p
}

// login answers the same for "no such user" and "wrong password", and
// limits attempts per account and per client address.
func login(log *slog.Logger, users *userStore, ring *keyRing, limits *limiter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := httpapi.Decode[Credentials](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		token, exp, err := signIn(r, users, ring, limits, c)
		if e := (*httpapi.Error)(nil); errors.As(err, &e) && e.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "300")
		}
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		setSession(w, r, token, exp)
		httpapi.JSON(w, http.StatusOK, map[string]string{"token": token, "expiresAt": exp.UTC().Format(time.RFC3339)})
	})
}

// signIn checks c and returns a new token, or a 401 or 429 problem.
func signIn(r *http.Request, users *userStore, ring *keyRing, limits *limiter, c Credentials) (string, time.Time, error) {
	account := strings.ToLower(c.Email)
	keys := map[string]string{"account": account}
	if addr := clientAddr(r); addr != "" {
		keys["client"] = addr
	}
	if limits.blocked(keys) {
		return "", time.Time{}, httpapi.Errorf(http.StatusTooManyRequests, "too_many_attempts", "too many sign-in attempts; try again later")
	}
	u, ok, err := users.authenticate(r.Context(), account, c.Password)
	if err != nil {
		return "", time.Time{}, err
	}
	if !ok {
		limits.failed(keys)
		return "", time.Time{}, httpapi.Errorf(http.StatusUnauthorized, "invalid_credentials", "wrong email or password")
	}
	limits.forget("account", account)
	return ring.sign(u)
}

// setSession gives the browser the token in an HttpOnly cookie.
func setSession(w http.ResponseWriter, r *http.Request, token string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", Expires: exp, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.Header.Get("X-Forwarded-Proto") == "https"})
}

// logout clears the session cookie. Tokens are stateless and short-lived
// (15 minutes): one copied elsewhere stays valid until it expires.
func logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		w.WriteHeader(http.StatusNoContent)
	})
}

// bearer returns the token from Authorization: Bearer, or the session cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

func verified(r *http.Request, v *authn.Verifier) (authn.Claims, error) {
	c, err := v.Verify(r.Context(), bearer(r))
	if err != nil {
		return c, httpapi.Errorf(http.StatusUnauthorized, "invalid_token", "sign in again")
	}
	return c, nil
}

func me(log *slog.Logger, v *authn.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := verified(r, v)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		httpapi.JSON(w, http.StatusOK, Account{ID: c.Subject, Email: c.Email, Name: c.Name, Roles: c.Roles})
	})
}

func jwks(log *slog.Logger, ring *keyRing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := ring.jwks(r.Context())
		if err != nil {
			httpapi.Fail(w, r, log, httpapi.Errorf(http.StatusServiceUnavailable, "starting", "keys are not loaded yet"))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		httpapi.JSON(w, http.StatusOK, set)
	})
}

// rotate starts signing with a new key (admins only). Tokens signed with
// the previous key keep verifying until they expire.
func rotate(log *slog.Logger, v *authn.Verifier, ring *keyRing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := verified(r, v)
		if err == nil && !c.IsAdmin() {
			err = httpapi.Errorf(http.StatusForbidden, "admin_only", "only an admin may rotate keys")
		}
		if err == nil {
			err = ring.rotate(r.Context())
		}
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// clientAddr is the client's address as the gateway reports it, or "" for
// a call that did not come through the gateway (one service to another).
func clientAddr(r *http.Request) string {
	f, _, _ := strings.Cut(r.Header.Get("X-Forwarded-For"), ",")
	return strings.TrimSpace(f)
}
