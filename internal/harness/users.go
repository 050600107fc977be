package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/runner"
)

// Users signs test users in through the identity service, calling it as
// the app "gateway" would, and registers each user on first use.
type Users struct {
	sys  *runner.System
	from *runner.App

	mu     sync.Mutex
	tokens map[string]string
	ids    map[string]string
}

// NewUsers returns the users of a system started with identity and a
// "gateway" app (a Probe stands in for it).
func NewUsers(sys *runner.System) *Users {
	return &Users{sys: sys, from: sys.App("gateway"), tokens: map[string]string{}, ids: map[string]string{}}
}

// Token returns a bearer token for name (a short handle such as "ann").
func (u *Users) Token(t testing.TB, name string) string {
	t.Helper()
	u.mu.Lock()
	tok, ok := u.tokens[name]
	u.mu.Unlock()
	if ok {
		return tok
	}
	email, password := name+"@example.test", "password-of-"+name
	body := fmt.Sprintf(`{"email":%q,"password":%q,"name":%q}`, email, password, name)
	var status int
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		// identity may still be starting (its keys are made in the background).
		status, _, _ = Invoke(t, u.from, "identity", http.MethodPost, "register", nil, body)
		assert.Contains(c, []int{http.StatusCreated, http.StatusConflict}, status, "register %s", name)
	}, 30*time.Second, Poll)
	tok, id := u.login(t, email, password)
	u.mu.Lock()
	u.tokens[name], u.ids[name] = tok, id
	u.mu.Unlock()
	return tok
}

// ID returns the user id (the token's subject) of name.
func (u *Users) ID(t testing.TB, name string) string {
	u.Token(t, name)
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ids[name]
}

// Admin returns a token for the first admin, whose credentials the runner
// generated into the data folder.
func (u *Users) Admin(t testing.TB) string {
	t.Helper()
	u.mu.Lock()
	tok, ok := u.tokens["\x00admin"]
	u.mu.Unlock()
	if ok {
		return tok
	}
	b, err := os.ReadFile(filepath.Join(u.sys.DataDir, "secrets", "bazaar.json"))
	if err != nil {
		t.Fatal(err)
	}
	var secret map[string]string
	if err := json.Unmarshal(b, &secret); err != nil {
		t.Fatal(err)
	}
	tok, _ = u.login(t, secret["admin-email"], secret["admin-password"])
	u.mu.Lock()
	u.tokens["\x00admin"] = tok
	u.mu.Unlock()
	return tok
}

func (u *Users) login(t testing.TB, email, password string) (token, id string) {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, b := Invoke(t, u.from, "identity", http.MethodPost, "login", nil, body)
		require.Equal(c, http.StatusOK, status, "login %s: %s", email, b)
		var out struct{ Token string }
		require.NoError(c, json.Unmarshal(b, &out))
		token = out.Token
	}, 30*time.Second, Poll)
	status, _, b := Invoke(t, u.from, "identity", http.MethodGet, "me", http.Header{"Authorization": {"Bearer " + token}}, "")
	if status != http.StatusOK {
		t.Fatalf("me for %s: %d %s", email, status, b)
	}
	var me struct{ ID string }
	_ = json.Unmarshal(b, &me)
	return token, me.ID
}

// Bearer is the Authorization header for token.
func Bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
