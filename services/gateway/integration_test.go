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

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestThroughTheGateway drives the whole system from outside, as a browser
// or API client does: only the gateway's port, tokens from identity; in
// both profiles.
func TestThroughTheGateway(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) { throughTheGateway(t, profile) })
	}
}

func throughTheGateway(t *testing.T, profile string) {
	sys := harness.Start(t, harness.Options{Profile: profile,
		Env: map[string]string{"ORDERING_GRACE_PERIOD": "0s", "GATEWAY_RATE_PER_SECOND": "1000"}})
	base := sys.App("gateway").AppURL()
	origin := http.Header{"Origin": {base}}
	// Every answer of the public API must be one api/openapi.yaml declares.
	contract := harness.LoadContract(t)
	send := func(method, path, token, body string, extra http.Header) (int, http.Header, []byte) {
		h := http.Header{}
		for k, v := range extra {
			h[k] = v
		}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		status, header, answer := harness.Call(t, method, base+path, h, body)
		contract.Check(t, method, base+path, status, header, answer)
		return status, header, answer
	}
	login := func(email, password string) (token, cookie string) {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			status, h, body := send(http.MethodPost, "/api/identity/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), origin)
			require.Equal(c, http.StatusOK, status, "login %s: %s", email, body)
			var out struct{ Token string }
			cookie = strings.Split(h.Get("Set-Cookie"), ";")[0]
			require.NoError(c, json.Unmarshal(body, &out))
			token = out.Token
		}, 30*time.Second, harness.Poll)
		return token, cookie
	}
	register := func(email string) {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			status, _, body := send(http.MethodPost, "/api/identity/register", "", fmt.Sprintf(`{"email":%q,"password":"a long password 123","name":"x"}`, email), origin)
			assert.Equal(c, http.StatusCreated, status, "register: %s", body)
		}, 30*time.Second, harness.Poll)
	}
	register("a@example.com")
	register("b@example.com")
	a, aCookie := login("a@example.com", "a long password 123")
	b, _ := login("b@example.com", "a long password 123")
	secret := map[string]string{}
	raw, err := os.ReadFile(filepath.Join(sys.DataDir, "secrets", "bazaar.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &secret))
	admin, _ := login(secret["admin-email"], secret["admin-password"])

	// A places an order that B will try to reach.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := send(http.MethodPut, "/api/basket/items/headlamp", a, `{"quantity":1}`, nil)
		assert.Equal(c, http.StatusOK, status, "%s", body)
	}, 30*time.Second, harness.Poll)
	status, _, body := send(http.MethodPost, "/api/basket/checkout", a,
		`{"shippingAddress":{"name":"Zelda Logcheck","street":"17 Rue du Journal","city":"Lyon","postalCode":"69001","country":"FR"},"card":{"number":"4242424242424242","expiry":"12/30","cvc":"123"}}`,
		http.Header{"Idempotency-Key": {"gateway-order-1"}})
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var placed struct{ OrderID string }
	require.NoError(t, json.Unmarshal(body, &placed))
	order := "/api/ordering/orders/" + placed.OrderID
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, _, body := send(http.MethodGet, order, a, "", nil)
		assert.Contains(c, string(body), `"status":"paid"`)
	}, 30*time.Second, harness.Poll)

	t.Run("authorization matrix", func(t *testing.T) {
		who := map[string]string{"anonymous": "", "A": a, "B": b, "admin": admin}
		for _, row := range []struct {
			method, path, body string
			want               map[string]int
		}{
			{"GET", "/api/catalog/products", "", map[string]int{"anonymous": 200, "A": 200, "B": 200, "admin": 200}},
			{"POST", "/api/catalog/products", "{}", map[string]int{"anonymous": 401, "A": 403, "B": 403, "admin": 422}},
			{"PUT", "/api/catalog/products/headlamp", "{}", map[string]int{"anonymous": 401, "A": 403, "B": 403, "admin": 428}},
			{"GET", "/api/basket", "", map[string]int{"anonymous": 401, "A": 200, "B": 200, "admin": 200}},
			{"PUT", "/api/basket/items/headlamp", `{"quantity":1}`, map[string]int{"anonymous": 401}},
			{"GET", order, "", map[string]int{"anonymous": 401, "A": 200, "B": 404, "admin": 200}},
			{"POST", order + "/cancel", "", map[string]int{"anonymous": 401, "A": 409, "B": 404}},
			{"POST", order + "/ship", "", map[string]int{"anonymous": 401, "A": 403, "B": 403}},
			{"GET", "/api/identity/me", "", map[string]int{"anonymous": 401, "A": 200, "admin": 200}},
			// Internal operations do not exist for the public (the gateway's
			// sidecar may not call them; the gateway answers 404).
			{"POST", "/api/catalog/reservations", `{}`, map[string]int{"anonymous": 404, "admin": 404}},
			{"POST", "/api/payment/authorize", `{}`, map[string]int{"anonymous": 404, "admin": 404}},
		} {
			for name, want := range row.want {
				status, _, body := send(row.method, row.path, who[name], row.body, origin)
				assert.Equal(t, want, status, "%s %s as %s: %s", row.method, row.path, name, body)
			}
		}
		status, _, _ := send(http.MethodPost, order+"/ship", admin, "", origin)
		assert.Equal(t, http.StatusAccepted, status, "admin ships")
	})

	t.Run("no user sees another's data", func(t *testing.T) {
		_, _, body := send(http.MethodGet, "/api/ordering/orders", b, "", nil)
		assert.JSONEq(t, `[]`, string(body))
		_, _, body = send(http.MethodGet, "/api/ordering/orders", a, "", nil)
		assert.Contains(t, string(body), placed.OrderID)
		send(http.MethodPut, "/api/basket/items/wool-blanket", b, `{"quantity":2}`, origin)
		_, _, body = send(http.MethodGet, "/api/basket", a, "", nil)
		assert.NotContains(t, string(body), "wool-blanket")
	})

	t.Run("bad tokens are 401 with no detail", func(t *testing.T) {
		parts := strings.Split(a, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), `"customer"`, `"admin"`, 1))) + "." + parts[2]
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		for name, token := range map[string]string{"forged": forged, "alg none": none, "garbage": "x.y.z"} {
			status, _, body := send(http.MethodGet, "/api/basket", token, "", nil)
			assert.Equal(t, http.StatusUnauthorized, status, name)
			assert.NotContains(t, strings.ToLower(string(body)), "signature", name)
		}
		status, _, _ := send(http.MethodGet, "/api/basket", "", "", http.Header{"Cookie": {"identity_session=" + forged}})
		assert.Equal(t, http.StatusUnauthorized, status, "tampered cookie")
	})

	t.Run("browser session and CSRF", func(t *testing.T) {
		status, _, _ := send(http.MethodGet, "/api/basket", "", "", http.Header{"Cookie": {aCookie}})
		assert.Equal(t, http.StatusOK, status, "the session cookie signs the browser in")
		status, _, body := send(http.MethodPut, "/api/basket/items/headlamp", "", `{"quantity":3}`,
			http.Header{"Cookie": {aCookie}, "Origin": {"http://evil.example"}})
		assert.Equal(t, http.StatusForbidden, status, "%s", body)
		status, _, _ = send(http.MethodPut, "/api/basket/items/headlamp", "", `{"quantity":3}`, http.Header{"Cookie": {aCookie}, "Origin": {base}})
		assert.Equal(t, http.StatusOK, status, "same-origin writes pass")
	})

	t.Run("health reports each service", func(t *testing.T) {
		status, _, body := send(http.MethodGet, "/health", "", "", nil)
		assert.Equal(t, http.StatusOK, status, "%s", body)
		assert.JSONEq(t, `{"catalog":"up","basket":"up","ordering":"up","identity":"up","shell":"up"}`, string(body))
	})

	t.Run("logs never print a secret", func(t *testing.T) {
		out := harness.Output(sys)
		require.Contains(t, out, "identity ready", "the logs were captured")
		secrets := map[string]string{"admin password": secret["admin-password"], "a user's token": a, "an admin's token": admin}
		for _, app := range sys.Apps {
			secrets[app.Name()+"'s app token"] = app.AppToken
			secrets[app.Name()+"'s API token"] = app.APIToken
		}
		// The checkout's personal data: the card, and the address.
		secrets["the card number"] = "4242424242424242"
		secrets["the customer's name"] = "Zelda Logcheck"
		secrets["the street"] = "17 Rue du Journal"
		for what, value := range secrets {
			require.NotEmpty(t, value, what)
			assert.NotContains(t, out, value, "the logs print %s", what)
		}
		assert.NotRegexp(t, `tok_[0-9a-f]{32}`, out, "the logs print a card token")
	})

	// refusedEverywhere is nil once the gateway's verifier and services' own
	// (asked directly through the gateway's sidecar, past the gateway's
	// check) refuse token.
	refusedEverywhere := func(token string) error {
		if status, _, _ := send(http.MethodGet, "/api/basket", token, "", nil); status != http.StatusUnauthorized {
			return fmt.Errorf("gateway still takes the token: %d", status)
		}
		for app, path := range map[string]string{"basket": "basket", "ordering": "orders"} {
			if status, _, _ := harness.Invoke(t, sys.App("gateway"), app, http.MethodGet, path, harness.Bearer(token), ""); status != http.StatusUnauthorized {
				return fmt.Errorf("%s still takes the token: %d", app, status)
			}
		}
		return nil
	}

	t.Run("signing out ends the session everywhere", func(t *testing.T) {
		copied, _ := login("a@example.com", "a long password 123")
		other, _ := login("a@example.com", "a long password 123")
		for _, token := range []string{copied, other} {
			status, _, _ := send(http.MethodGet, "/api/basket", token, "", nil)
			require.Equal(t, http.StatusOK, status, "used just before, so that every verifier has it cached")
		}
		signedOut := time.Now()
		status, _, body := send(http.MethodPost, "/api/identity/logout", copied, "", origin)
		require.Equal(t, http.StatusNoContent, status, "%s", body)
		require.EventuallyWithT(t, func(c *assert.CollectT) { assert.NoError(c, refusedEverywhere(copied)) }, 45*time.Second, harness.Poll)
		t.Logf("a signed-out token refused everywhere %s after signing out", time.Since(signedOut).Round(time.Second))
		status, _, body = send(http.MethodGet, "/api/basket", other, "", nil)
		assert.Equal(t, http.StatusOK, status, "the same user's other session goes on: %s", body)
		status, _, body = send(http.MethodPost, "/api/identity/logout", copied, "", origin)
		assert.Equal(t, http.StatusNoContent, status, "signing out again with the dead token still works: %s", body)
		// The verifiers above read the signed-out list through their
		// sidecars; the public never reads it.
		for _, token := range []string{"", other} {
			status, _, body = send(http.MethodGet, "/api/identity/sessions/signed-out", token, "", nil)
			assert.Equal(t, http.StatusNotFound, status, "the signed-out sessions are public: %s", body)
		}
	})

	// Last: it signs everyone out.
	t.Run("a revoked key is refused everywhere within a minute", func(t *testing.T) {
		_, _, body := send(http.MethodGet, "/api/identity/jwks.json", "", "", nil)
		var set struct{ Keys []struct{ Kid string } }
		require.NoError(t, json.Unmarshal(body, &set))
		require.NotEmpty(t, set.Keys)
		leaked := set.Keys[0].Kid
		// Used just before, so that every verifier has it cached.
		status, _, _ := send(http.MethodGet, "/api/basket", a, "", nil)
		require.Equal(t, http.StatusOK, status)
		status, _, body = send(http.MethodPost, "/api/identity/keys/"+leaked+"/revoke", b, "", origin)
		require.Equal(t, http.StatusForbidden, status, "a customer may not revoke: %s", body)
		status, _, body = send(http.MethodPost, "/api/identity/keys/no-such-key/revoke", admin, "", origin)
		require.Equal(t, http.StatusNotFound, status, "%s", body)
		revoked := time.Now()
		status, _, body = send(http.MethodPost, "/api/identity/keys/"+leaked+"/revoke", admin, "", origin)
		require.Equal(t, http.StatusNoContent, status, "%s", body)

		require.EventuallyWithT(t, func(c *assert.CollectT) { assert.NoError(c, refusedEverywhere(a)) }, 60*time.Second, harness.Poll)
		t.Logf("tokens of the revoked key refused everywhere %s after the revocation", time.Since(revoked).Round(time.Second))
		fresh, _ := login("a@example.com", "a long password 123")
		status, _, body = send(http.MethodGet, "/api/basket", fresh, "", nil)
		assert.Equal(t, http.StatusOK, status, "a new sign-in works: %s", body)
	})
}
