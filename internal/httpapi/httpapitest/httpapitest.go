// Package httpapitest holds checks shared by the services' decoder tests.
package httpapitest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// Decode decodes body as a T the way a handler does and checks what must
// hold for any input: no panic, a rejection is a 4xx problem, and a value
// that is accepted is valid. It reports whether body was accepted.
func Decode[T httpapi.Validator](t testing.TB, body string) (T, bool) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	v, err := httpapi.Decode[T](r)
	if err != nil {
		var e *httpapi.Error
		if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
			t.Fatalf("body %q: want a 4xx problem, got %v", body, err)
		}
		return v, false
	}
	if p := v.Valid(context.Background()); len(p) > 0 {
		t.Fatalf("body %q decoded but is invalid: %v", body, p)
	}
	return v, true
}
