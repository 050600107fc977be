// Package caller tells a service who is calling. The gateway forwards the
// token it verified as "Authorization: Bearer"; each service verifies it
// again itself (Middleware), so a service trusts no header and no network
// position. A request without a token is anonymous; one with a bad token is
// refused.
package caller

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

type claimsKey struct{}

// WithClaims returns ctx carrying verified claims (for tests of handlers).
func WithClaims(ctx context.Context, c authn.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// Claims returns the verified claims of the request, if any.
func Claims(r *http.Request) (authn.Claims, bool) {
	c, ok := r.Context().Value(claimsKey{}).(authn.Claims)
	return c, ok
}

// Middleware verifies a bearer token when there is one and puts its claims
// into the request's context.
func Middleware(v *authn.Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			if h == "" {
				next.ServeHTTP(w, r)
				return
			}
			token, ok := strings.CutPrefix(h, "Bearer ")
			c, err := v.Verify(r.Context(), token)
			if !ok || err != nil {
				httpapi.Fail(w, r, nil, httpapi.Errorf(http.StatusUnauthorized, "invalid_token", "sign in again"))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// ValidUser reports whether id has the shape of a user id (events carry them).
func ValidUser(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return false
		}
	}
	return true
}

// User returns the signed-in user's id, or a 401 problem.
func User(r *http.Request) (string, error) {
	c, ok := Claims(r)
	if !ok {
		return "", httpapi.Errorf(http.StatusUnauthorized, "sign_in_required", "sign in first")
	}
	return c.Subject, nil
}

// IsAdmin reports whether the caller has the admin role.
func IsAdmin(r *http.Request) bool {
	c, ok := Claims(r)
	return ok && c.IsAdmin()
}

// RequireAdmin returns a 401 or 403 problem unless the caller is an admin.
func RequireAdmin(r *http.Request) error {
	if _, err := User(r); err != nil {
		return err
	}
	if !IsAdmin(r) {
		return httpapi.Errorf(http.StatusForbidden, "admin_only", "only an admin may do this")
	}
	return nil
}

// NewVerifier returns a verifier for the identity service's tokens, with
// keys and signed-out sessions fetched from identity through the sidecars.
func NewVerifier(invoke *daprapp.Invoker) *authn.Verifier {
	return authn.NewVerifier(func(ctx context.Context) (authn.JWKS, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/jwks.json", nil)
		if err != nil {
			return authn.JWKS{}, err
		}
		resp, err := invoke.Do(ctx, "identity", req)
		if err != nil {
			return authn.JWKS{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return authn.JWKS{}, fmt.Errorf("identity answered %d for its keys", resp.StatusCode)
		}
		var set authn.JWKS
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set)
		return set, err
	}, time.Second).WithSignOuts(func(ctx context.Context) ([]string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, contracts.SignedOutPath, nil)
		if err != nil {
			return nil, err
		}
		resp, err := invoke.Do(ctx, contracts.IdentityApp, req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("identity answered %d for the signed-out sessions", resp.StatusCode)
		}
		var out contracts.SignedOut
		err = json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&out)
		return out.Sessions, err
	})
}
