package main

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// Account is how the API shows a user.
type Account struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
}

func register(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := httpapi.Decode[Registration](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		u, err := accounts.Register(r.Context(), req)
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusCreated, Account{ID: u.ID, Email: u.Email, Name: u.Name})
	})
}

// login answers the same for "no such user" and "wrong password", and
// limits attempts per account and per client address.
func login(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := httpapi.Decode[Credentials](r)
		if err != nil {
			httpapi.Fail(w, r, log, err)
			return
		}
		s, err := accounts.SignIn(r.Context(), c, clientAddr(r))
		if err == nil || errors.Is(err, ErrInvalidCredentials) {
			// A password was compared (bcrypt): the limiter's cost bound,
			// which this line lets an operator (and a test) count. No
			// email: it would tell which accounts are being tried.
			log.InfoContext(r.Context(), "password checked", "match", err == nil)
		}
		if errors.Is(err, ErrTooManyAttempts) {
			w.Header().Set("Retry-After", strconv.Itoa(int(signInWindow.Seconds())))
		}
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		setSession(w, r, s)
		httpapi.JSON(w, http.StatusOK, map[string]string{"token": s.Token, "expiresAt": s.Expires.UTC().Format(time.RFC3339)})
	})
}

// setSession gives the browser the token in an HttpOnly cookie.
func setSession(w http.ResponseWriter, r *http.Request, s Session) {
	http.SetCookie(w, &http.Cookie{Name: contracts.SessionCookie, Value: s.Token, Path: "/", Expires: s.Expires, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.Header.Get("X-Forwarded-Proto") == "https"})
}

// clearSession makes the browser drop the session cookie.
func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: contracts.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// logout ends the session of the token it comes with (a copy of it stops
// working everywhere too) and clears the session cookie.
func logout(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clearSession(w)
		if err := accounts.SignOut(r.Context(), bearer(r)); err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// signedOut lists the sessions signed out before their tokens expired, for
// the verifiers (authn.Verifier.WithSignOuts).
func signedOut(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids, err := accounts.SignedOut(r.Context())
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, contracts.SignedOut{Sessions: ids})
	})
}

// bearer returns the token from Authorization: Bearer, or the session cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie(contracts.SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

func me(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := accounts.Verify(r.Context(), bearer(r))
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, Account{ID: c.Subject, Email: c.Email, Name: c.Name, Roles: c.Roles})
	})
}

func jwks(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := accounts.PublicKeys(r.Context())
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		httpapi.JSON(w, http.StatusOK, set)
	})
}

// rotate starts signing with a new key (admins only).
func rotate(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := accounts.RotateKeys(r.Context(), bearer(r)); err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// revoke takes a leaked signing key out of use (admins only).
func revoke(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := accounts.RevokeKey(r.Context(), bearer(r), mux.Vars(r)["kid"]); err != nil {
			httpapi.Fail(w, r, log, problem(err))
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

// contact answers a customer's address (the notification service's only
// call: the access policy lets no other app reach it).
func contact(log *slog.Logger, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := accounts.Contact(r.Context(), mux.Vars(r)["id"])
		if err != nil {
			httpapi.Fail(w, r, log, problem(err))
			return
		}
		httpapi.JSON(w, http.StatusOK, c)
	})
}
