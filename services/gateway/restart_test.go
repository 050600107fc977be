package main

import (
	"database/sql"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestRestartRightAfterStop is `make run` started again right after Ctrl-C,
// on the same data folder: the first request to every page and API answers
// without a 5xx. Sidecars find each other in a SQLite table that keeps a
// dead sidecar's address listed for up to 15 s, and callers choose among
// the listed addresses at random. A sidecar that stops cleanly removes its
// own row; one that is killed does not, so the runner removes a sidecar's row
// when its process exits and empties the table before a run starts. (Without
// that, this test finds the previous run's and a crashed sidecar's addresses
// still listed; its first requests happened to pass.)
func TestRestartRightAfterStop(t *testing.T) {
	data := t.TempDir()
	first := harness.Start(t, harness.Options{Profile: "embedded", DataDir: data})
	old := addresses(t, data)
	require.NotEmpty(t, old, "the first run's sidecars are listed")
	first.Stop()
	assert.Empty(t, addresses(t, data), "a stopped run's sidecars are not listed")

	sys := harness.Start(t, harness.Options{Profile: "embedded", DataDir: data})
	base := sys.App("gateway").AppURL()
	for _, path := range []string{"/", "/?category=kitchen", "/products/chefs-knife", "/cart", "/sign-in", "/register",
		"/api/catalog/products", "/api/catalog/products/chefs-knife", "/fragments/catalog/product-grid", "/status"} {
		status, _, body := harness.Call(t, http.MethodGet, base+path, nil, "")
		assert.Less(t, status, 500, "GET %s, the first time: %s", path, body)
	}
	status, _, body := harness.Call(t, http.MethodPost, base+"/api/identity/register", http.Header{"Content-Type": {"application/json"}},
		`{"email":"restart@example.test","password":"a long password","name":"Rea"}`)
	assert.Equal(t, http.StatusCreated, status, "%s", body)

	// A sidecar that crashes leaves the table at once, and is listed
	// again, once, when its replacement is up.
	ordering := sys.App("ordering")
	require.NoError(t, ordering.KillSidecar())
	require.Eventually(t, func() bool { return sys.App("ordering").SidecarRestarts() == 1 }, 30*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		listed := addresses(t, data)
		return len(listed["ordering"]) == 1 && listening(listed["ordering"][0])
	}, 30*time.Second, 100*time.Millisecond, "ordering's new sidecar is listed, alone")
	for app, addrs := range addresses(t, data) {
		for _, a := range addrs {
			assert.True(t, listening(a), "%s is listed at %s, where nothing listens", app, a)
			for _, gone := range old[app] {
				assert.NotEqual(t, gone, a, "%s: the last run's address is listed", app)
			}
		}
	}
}

// addresses reads the name-resolution table: each app's listed addresses.
func addresses(t *testing.T, data string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "nameresolution.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT app_id, address FROM hosts")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var app, addr string
		require.NoError(t, rows.Scan(&app, &addr))
		out[app] = append(out[app], addr)
	}
	require.NoError(t, rows.Err())
	return out
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
