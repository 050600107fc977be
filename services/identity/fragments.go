package main

import (
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/a-h/templ"

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
		fragment.Spec{Name: "admin-keys", Description: "the signing keys, revoking a leaked one (admins)", Params: []string{"page"}, Cache: fragment.Personal, Actions: []string{"POST"}},
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

func userMenuHandler(f *fragment.Service, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := bearer(r)
		if token == "" {
			f.Write(w, r, http.StatusOK, fragment.Public, userMenuFragment(nil, fragment.Page(r)))
			return
		}
		c, err := accounts.Verify(r.Context(), token)
		if err != nil {
			f.Fail(w, r, nil, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, userMenuFragment(&c, fragment.Page(r)))
	})
}

// signOut ends the session, clears its cookie and goes home.
func signOut(log *slog.Logger, f *fragment.Service, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clearSession(w)
		if err := accounts.SignOut(r.Context(), bearer(r)); err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Done(w, r, "/", nil)
	})
}

func formHandler(f *fragment.Service, render func(formView) templ.Component) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Write(w, r, http.StatusOK, fragment.Public, render(formView{Page: fragment.Page(r), Return: returnTo(r)}))
	})
}

func signInForm(log *slog.Logger, f *fragment.Service, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := formView{Page: fragment.Page(r), Return: returnTo(r), Email: strings.TrimSpace(r.PostFormValue("email"))}
		s, err := accounts.SignIn(r.Context(), Credentials{Email: v.Email, Password: r.PostFormValue("password")}, clientAddr(r))
		if err != nil {
			formFailed(w, r, log, f, err, &v, signInFragment)
			return
		}
		setSession(w, r, s)
		f.Done(w, r, v.Return, nil)
	})
}

// registerForm creates the account and signs the new user in.
func registerForm(log *slog.Logger, f *fragment.Service, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := formView{Page: fragment.Page(r), Return: returnTo(r), Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name"))}
		u, err := accounts.Register(r.Context(), Registration{Email: v.Email, Name: v.Name, Password: r.PostFormValue("password")})
		if err != nil {
			formFailed(w, r, log, f, err, &v, registerFragment)
			return
		}
		s, err := accounts.Issue(u)
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		setSession(w, r, s)
		f.Done(w, r, v.Return, nil)
	})
}

// formFailed answers a form that the domain refused: the form again with
// the problem's field messages, or its text for the whole form; a failure
// of ours (5xx) is the fragment's error state instead.
func formFailed(w http.ResponseWriter, r *http.Request, log *slog.Logger, f *fragment.Service, err error, v *formView, render func(formView) templ.Component) {
	err = problem(err)
	var e *httpapi.Error
	if !errors.As(err, &e) || e.Status >= http.StatusInternalServerError {
		f.Fail(w, r, log, err)
		return
	}
	v.Errors = e.Fields
	if len(v.Errors) == 0 {
		v.Errors = map[string]string{"form": e.Detail}
	}
	f.Invalid(w, r, render(*v))
}

func adminKeysHandler(log *slog.Logger, f *fragment.Service, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys, err := accounts.SigningKeys(r.Context(), bearer(r))
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Write(w, r, http.StatusOK, fragment.Personal, adminKeysFragment(keys, fragment.Page(r), ""))
	})
}

// revokeFromAdmin revokes the key the admin picked. Revoking the signing
// key signs everyone out within a minute, the admin too: the page says so.
func revokeFromAdmin(log *slog.Logger, f *fragment.Service, accounts *Accounts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, kid := fragment.Page(r), r.PostFormValue("kid")
		err := accounts.RevokeKey(r.Context(), bearer(r), kid)
		message := "Key " + kid + " is revoked: every token it signed stops working within a minute, and those users sign in again."
		if errors.Is(err, ErrUnknownKey) {
			message = "There is no key " + kid + " (any more)."
		} else if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		keys, err := accounts.SigningKeys(r.Context(), bearer(r))
		if err != nil {
			f.Fail(w, r, log, problem(err))
			return
		}
		f.Done(w, r, page, adminKeysFragment(keys, page, message))
	})
}
