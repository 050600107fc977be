package main

import (
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/fragment"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

//go:embed static
var staticFiles embed.FS

func newFragments() *fragment.Service {
	return fragment.NewService("identity", staticFiles, "identity.css",
		fragment.Spec{Name: "user-menu", Description: "sign in and register, or the user's name, orders, admin and sign out", Params: []string{"page"}, Cache: fragment.Public, Actions: []string{"POST (sign out)"}},
		fragment.Spec{Name: "sign-in", Description: "the sign-in form", Params: []string{"page", "return"}, Cache: fragment.Public, Actions: []string{"POST"}},
		fragment.Spec{Name: "register", Description: "the registration form", Params: []string{"page", "return"}, Cache: fragment.Public, Actions: []string{"POST"}},
	)
}

// returnTo is where to go after signing in: a local path, never the
// sign-in or register page itself.
func returnTo(r *http.Request) string {
	p := fragment.LocalPath(r.FormValue("return"))
	if strings.HasPrefix(p, "/sign-in") || strings.HasPrefix(p, "/register") {
		return "/"
	}
	return p
}

func userMenuHandler(f *fragment.Service, v *authn.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearer(r) == "" {
			f.Write(w, r, http.StatusOK, fragment.Public, userMenuFragment(nil, fragment.Page(r)))
			return
		}
		c, err := verified(r, v)
		if err != nil {
			f.Fail(w, r, nil, err)
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, userMenuFragment(&c, fragment.Page(r)))
	})
}

// signOut clears the session cookie and goes home.
func signOut(f *fragment.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		f.Done(w, r, "/", nil)
	})
}

func formHandler(f *fragment.Service, render func(formView) templ.Component) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Write(w, r, http.StatusOK, fragment.Public, render(formView{Page: fragment.Page(r), Return: returnTo(r)}))
	})
}

func signInForm(log *slog.Logger, f *fragment.Service, users *userStore, ring *keyRing, limits *limiter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := formView{Page: fragment.Page(r), Return: returnTo(r), Email: strings.TrimSpace(r.PostFormValue("email"))}
		c := Credentials{Email: v.Email, Password: r.PostFormValue("password")}
		if v.Errors = c.Valid(r.Context()); len(v.Errors) > 0 {
			f.Invalid(w, r, signInFragment(v))
			return
		}
		token, exp, err := signIn(r, users, ring, limits, c)
		var e *httpapi.Error
		if errors.As(err, &e) && e.Status < 500 {
			v.Errors = map[string]string{"form": formMessage(e)}
			f.Invalid(w, r, signInFragment(v))
			return
		}
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		setSession(w, r, token, exp)
		f.Done(w, r, v.Return, nil)
	})
}

func formMessage(e *httpapi.Error) string {
	switch e.Code {
	case "invalid_credentials":
		return "Wrong email or password."
	case "too_many_attempts":
		return "Too many sign-in attempts. Wait a few minutes and try again."
	}
	return e.Detail
}

// registerForm creates the account and signs the new user in.
func registerForm(log *slog.Logger, f *fragment.Service, users *userStore, ring *keyRing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := formView{Page: fragment.Page(r), Return: returnTo(r), Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name"))}
		reg := Registration{Email: v.Email, Name: v.Name, Password: r.PostFormValue("password")}
		if v.Errors = reg.Valid(r.Context()); len(v.Errors) > 0 {
			f.Invalid(w, r, registerFragment(v))
			return
		}
		u, err := users.create(r.Context(), reg.Email, reg.Name, reg.Password, []string{"customer"})
		if errors.Is(err, errEmailTaken) {
			v.Errors = map[string]string{"email": "has an account already: sign in instead"}
			f.Invalid(w, r, registerFragment(v))
			return
		}
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		token, exp, err := ring.sign(u)
		if err != nil {
			f.Fail(w, r, log, err)
			return
		}
		setSession(w, r, token, exp)
		f.Done(w, r, v.Return, nil)
	})
}
