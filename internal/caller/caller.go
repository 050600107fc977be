// Package caller tells a service who is calling: the signed-in user and
// whether they are an admin. Until the identity service and the gateway
// exist, the gateway's headers are the source; only callers behind a Dapr
// sidecar can reach a service at all (daprapp.RequireAppToken). When the
// gateway lands, this is where a verified token replaces the headers.
package caller

import (
	"net/http"
	"regexp"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// Headers the gateway sets for a signed-in user.
const (
	UserHeader = "X-User-Id"
	RoleHeader = "X-User-Role"
)

var userRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,128}$`)

// ValidUser reports whether id has the shape of a user id.
func ValidUser(id string) bool { return userRE.MatchString(id) }

// User returns the signed-in user, or a 401 problem.
func User(r *http.Request) (string, error) {
	u := r.Header.Get(UserHeader)
	if !ValidUser(u) {
		return "", httpapi.Errorf(http.StatusUnauthorized, "sign_in_required", "sign in first")
	}
	return u, nil
}

// IsAdmin reports whether the caller has the admin role.
func IsAdmin(r *http.Request) bool { return r.Header.Get(RoleHeader) == "admin" }

// RequireAdmin returns a 403 problem unless the caller is an admin.
func RequireAdmin(r *http.Request) error {
	if !IsAdmin(r) {
		return httpapi.Errorf(http.StatusForbidden, "admin_only", "only an admin may do this")
	}
	return nil
}
