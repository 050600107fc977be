package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestIdentity signs users up and in through real sidecars, in both profiles.
func TestIdentity(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"identity"},
				Extra: []compose.Service{harness.Probe("gateway")}})
			gw := sys.App("gateway")
			call := func(method, path, body string, h http.Header) (int, http.Header, []byte) {
				status, header, answer := harness.Invoke(t, gw, "identity", method, path, h, body)
				harness.LoadContract(t).CheckService(t, "identity", method, path, status, header, answer)
				return status, header, answer
			}
			login := func(email, password string) (int, string, http.Header) {
				status, h, body := call(http.MethodPost, "login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), nil)
				var out struct{ Token string }
				_ = json.Unmarshal(body, &out)
				return status, out.Token, h
			}
			bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

			status, _, body := call(http.MethodPost, "register", `{"email":"ann@example.com","password":"correct horse battery","name":"Ann"}`, nil)
			require.Equal(t, http.StatusCreated, status, "%s", body)
			status, _, body = call(http.MethodPost, "register", `{"email":"ann@example.com","password":"another long password","name":"Ann 2"}`, nil)
			assert.Equal(t, http.StatusConflict, status, "%s", body)
			status, _, body = call(http.MethodPost, "register", `{"email":"not-an-email","password":"short","name":""}`, nil)
			assert.Equal(t, http.StatusUnprocessableEntity, status)
			for _, f := range []string{"email", "password", "name"} {
				assert.Contains(t, string(body), `"`+f+`"`)
			}

			t.Run("same answer for unknown user and wrong password", func(t *testing.T) {
				s1, _, b1 := call(http.MethodPost, "login", `{"email":"ann@example.com","password":"wrong password!"}`, nil)
				s2, _, b2 := call(http.MethodPost, "login", `{"email":"nobody@example.com","password":"wrong password!"}`, nil)
				assert.Equal(t, http.StatusUnauthorized, s1)
				assert.Equal(t, s1, s2)
				assert.Equal(t, string(b1), string(b2))
			})

			status, token, h := login("ann@example.com", "correct horse battery")
			require.Equal(t, http.StatusOK, status)
			require.NotEmpty(t, token)
			cookie := h.Get("Set-Cookie")
			assert.Contains(t, cookie, "identity_session=")
			assert.Contains(t, cookie, "HttpOnly")
			assert.Contains(t, cookie, "SameSite=Lax")

			t.Run("me with the token or the cookie", func(t *testing.T) {
				status, _, body := call(http.MethodGet, "me", "", bearer(token))
				require.Equal(t, http.StatusOK, status, "%s", body)
				assert.Contains(t, string(body), `"email":"ann@example.com"`)
				status, _, _ = call(http.MethodGet, "me", "", http.Header{"Cookie": {"identity_session=" + token}})
				assert.Equal(t, http.StatusOK, status)
				status, _, body = call(http.MethodGet, "me", "", bearer(token[:len(token)-4]+"AAAA"))
				assert.Equal(t, http.StatusUnauthorized, status)
				assert.NotContains(t, string(body), "signature", "no detail leaked")
				status, _, _ = call(http.MethodGet, "me", "", http.Header{"Cookie": {"identity_session=" + tamper(token)}})
				assert.Equal(t, http.StatusUnauthorized, status, "a tampered cookie is refused")
				status, _, _ = call(http.MethodGet, "me", "", nil)
				assert.Equal(t, http.StatusUnauthorized, status)
			})

			t.Run("jwks names the signing key", func(t *testing.T) {
				status, _, body := call(http.MethodGet, "jwks.json", "", nil)
				require.Equal(t, http.StatusOK, status)
				var set authn.JWKS
				require.NoError(t, json.Unmarshal(body, &set))
				require.NotEmpty(t, set.Keys)
				assert.Equal(t, kidOf(t, token), set.Keys[0].Kid)
			})

			t.Run("sign-in attempts are limited per account", func(t *testing.T) {
				call(http.MethodPost, "register", `{"email":"bob@example.com","password":"bobs long password","name":"Bob"}`, nil)
				codes := []int{}
				for range 6 {
					s, _, _ := login("bob@example.com", "guess guess guess")
					codes = append(codes, s)
				}
				assert.Equal(t, []int{401, 401, 401, 401, 401, 429}, codes)
				s, _, _ := login("bob@example.com", "bobs long password")
				assert.Equal(t, http.StatusTooManyRequests, s, "even the right password waits")
			})

			t.Run("admin from the secret store rotates keys without signing anyone out", func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(sys.DataDir, "secrets", "bazaar.json"))
				require.NoError(t, err)
				var secret map[string]string
				require.NoError(t, json.Unmarshal(b, &secret))
				var admin string
				require.EventuallyWithT(t, func(c *assert.CollectT) {
					var s int
					s, admin, _ = login(secret["admin-email"], secret["admin-password"])
					assert.Equal(c, http.StatusOK, s, "admin sign-in")
				}, 20*time.Second, harness.Poll)
				status, _, _ := call(http.MethodPost, "keys/rotate", "", bearer(token))
				assert.Equal(t, http.StatusForbidden, status, "customers cannot rotate")
				status, _, body := call(http.MethodPost, "keys/rotate", "", bearer(admin))
				require.Equal(t, http.StatusNoContent, status, "%s", body)
				_, fresh, _ := login("ann@example.com", "correct horse battery")
				assert.NotEqual(t, kidOf(t, token), kidOf(t, fresh))
				for _, tok := range []string{token, fresh} {
					status, _, _ := call(http.MethodGet, "me", "", bearer(tok))
					assert.Equal(t, http.StatusOK, status)
				}
			})
		})
	}
}

func kidOf(t *testing.T, token string) string {
	head, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	require.NoError(t, err)
	var h struct{ Kid string }
	require.NoError(t, json.Unmarshal(head, &h))
	return h.Kid
}

// tamper changes the token's payload, keeping its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"customer"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
