package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/fragment/fragmenttest"
)

func TestFragmentsRender(t *testing.T) {
	t.Run("user menu signed out", func(t *testing.T) {
		doc := fragmenttest.Render(t, userMenuFragment(nil, "/products/a?b=1"), "identity", "user-menu")
		assert.Equal(t, "/sign-in?return=%2Fproducts%2Fa%3Fb%3D1", doc.Find(`a[href^="/sign-in"]`).AttrOr("href", ""))
		assert.Zero(t, doc.Find("form").Length())
	})
	t.Run("user menu escapes the user's name", func(t *testing.T) {
		c := &authn.Claims{Name: fragmenttest.Hostile, Roles: []string{"customer"}}
		doc := fragmenttest.Render(t, userMenuFragment(c, "/"), "identity", "user-menu")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		assert.Zero(t, doc.Find(`a[href="/admin"]`).Length(), "customers see no admin link")
		assert.Equal(t, "user-menu", doc.Find(`input[name="_fragment"]`).AttrOr("value", ""))
	})
	t.Run("admins see the admin area", func(t *testing.T) {
		doc := fragmenttest.Render(t, userMenuFragment(&authn.Claims{Name: "Root", Roles: []string{"admin"}}, "/"), "identity", "user-menu")
		assert.Equal(t, 1, doc.Find(`a[href="/admin"]`).Length())
	})
	t.Run("sign in keeps the email, never the password", func(t *testing.T) {
		v := formView{Page: "/sign-in", Return: "/cart", Email: fragmenttest.Hostile, Errors: map[string]string{"form": "Wrong email or password."}}
		doc := fragmenttest.Render(t, signInFragment(v), "identity", "sign-in")
		assert.Equal(t, fragmenttest.Hostile, doc.Find("#identity-sign-in-email").AttrOr("value", ""))
		assert.Equal(t, "", doc.Find("#identity-sign-in-password").AttrOr("value", ""))
		assert.Equal(t, "Wrong email or password.", doc.Find(`[role="alert"]`).Text())
		assert.Equal(t, "/cart", doc.Find(`input[name="return"]`).AttrOr("value", ""))
		doc.Find("input:not([type=hidden])").Each(func(_ int, s *goquery.Selection) {
			assert.Equal(t, 1, doc.Find(`label[for="`+s.AttrOr("id", "")+`"]`).Length(), "every input has a label")
		})
	})
	t.Run("register shows each field's error next to it", func(t *testing.T) {
		v := formView{Page: "/register", Return: "/", Name: fragmenttest.Hostile, Email: "a@b",
			Errors: map[string]string{"email": "must be an email address", "password": "must be at least 12 characters"}}
		doc := fragmenttest.Render(t, registerFragment(v), "identity", "register")
		assert.Equal(t, fragmenttest.Hostile, doc.Find("#identity-register-name").AttrOr("value", ""))
		assert.Equal(t, "Email must be an email address", strings.TrimSpace(doc.Find("#identity-register-email-error").Text()))
		assert.Equal(t, "true", doc.Find("#identity-register-password").AttrOr("aria-invalid", ""))
		assert.Equal(t, "identity-register-password-error", doc.Find("#identity-register-password").AttrOr("aria-describedby", ""))
	})
}

func TestReturnTo(t *testing.T) {
	for in, want := range map[string]string{"/cart": "/cart", "https://evil.example/": "/", "//evil.example": "/", "/sign-in?x": "/",
		"/register": "/", "": "/", "/\\evil": "/", "javascript:alert(1)": "/", "/orders/1?placed=1": "/orders/1?placed=1"} {
		r := httptest.NewRequest("GET", "/fragments/sign-in?return="+url.QueryEscape(in), nil)
		assert.Equal(t, want, returnTo(r), in)
	}
}

func TestAdminKeys(t *testing.T) {
	t.Run("renders each key with its revoke form", func(t *testing.T) {
		keys := []KeyInfo{{Kid: "k2", Signing: true}, {Kid: "k1"}}
		doc := fragmenttest.Render(t, adminKeysFragment(keys, "/admin", fragmenttest.Hostile), "identity", "admin-keys")
		fragmenttest.ShowsText(t, doc, fragmenttest.Hostile)
		assert.Equal(t, 2, doc.Find("form").Length())
		assert.Equal(t, "k1", doc.Find(`#identity-key-k1 input[name="kid"]`).AttrOr("value", ""))
		assert.Contains(t, doc.Find("#identity-key-k2").Text(), "signs new tokens")
	})
	post := func(f *fixture, token, kid string) *httptest.ResponseRecorder {
		h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), daprapp.Config{}, f.accounts)
		r := httptest.NewRequest(http.MethodPost, "/fragments/admin-keys", strings.NewReader(url.Values{"kid": {kid}, "page": {"/admin"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("HX-Request", "true")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	t.Run("an admin revokes", func(t *testing.T) {
		f := newFixture(t)
		w := post(f, "admin", "k1")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, []string{"k1"}, f.keys.revoked)
		assert.Contains(t, w.Body.String(), "Key k1 is revoked")
	})
	t.Run("a customer may not", func(t *testing.T) {
		f := newFixture(t)
		w := post(f, "customer", "k1")
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.Empty(t, f.keys.revoked)
	})
}
