package main

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// TestTamperedSagaHistoryIsRefused changes a waiting saga's stored history
// behind Dapr's back (the quantity of its checkout's line, in ordering's
// store) and makes its sidecar load it again: with workflow history signing
// on (dapr/config.yaml) the saga fails instead of replaying the forged
// input, and nothing is reserved or paid. Without signing it would reserve
// nine headlamps for an order of one.
func TestTamperedSagaHistoryIsRefused(t *testing.T) {
	data := t.TempDir()
	sys := harness.Start(t, harness.Options{Profile: "embedded", Services: backends, DataDir: data,
		Extra: []compose.Service{harness.Probe("gateway")},
		Env:   map[string]string{"ORDERING_GRACE_PERIOD": "15s"}})
	s := shop{t: t, sys: sys, from: sys.App("gateway"), users: harness.NewUsers(sys)}
	s.setStock("headlamp", 100)
	s.add("mallory", "headlamp", 1)
	id := s.checkout("mallory", "tamper-1", approve)
	s.waitFor("mallory", id, events.Submitted)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "state", "ordering.db")+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT key, value, is_binary FROM state WHERE key LIKE ?", "%workflow||"+id+"||history%")
	require.NoError(t, err)
	type row struct {
		key, value string
		binary     bool
	}
	var history []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.key, &r.value, &r.binary))
		history = append(history, r)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.NotEmpty(t, history, "the saga's history is in ordering's store")
	forged := 0
	for _, r := range history {
		raw := []byte(r.value)
		if r.binary {
			raw, err = base64.StdEncoding.DecodeString(r.value)
			require.NoError(t, err)
		}
		changed := bytes.ReplaceAll(raw, []byte(`"quantity":1`), []byte(`"quantity":9`))
		if bytes.Equal(changed, raw) {
			continue
		}
		value := string(changed)
		if r.binary {
			value = base64.StdEncoding.EncodeToString(changed)
		}
		_, err := db.Exec("UPDATE state SET value = ? WHERE key = ?", value, r.key)
		require.NoError(t, err)
		forged++
	}
	require.Positive(t, forged, "a history event holds the line's quantity")

	// A new sidecar reads the history from the store when the grace
	// period's timer fires.
	require.NoError(t, sys.App("ordering").KillSidecar())
	ordering := sys.App("ordering")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		// Asked directly: the sidecar is restarting at first.
		req, _ := http.NewRequest(http.MethodGet, ordering.SidecarURL()+"/v1.0/workflows/dapr/"+id, nil)
		req.Header.Set("Dapr-Api-Token", ordering.APIToken)
		resp, err := http.DefaultClient.Do(req)
		if !assert.NoError(c, err) {
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		assert.Contains(c, string(body), `"FAILED"`, "the forged saga fails")
	}, 90*time.Second, time.Second)
	time.Sleep(2 * time.Second)
	stock, _ := s.stock("headlamp")
	assert.Equal(t, 100, stock, "nothing reserved")
	_, _, stored := storedAuthorization(t, sys, id)
	assert.False(t, stored, "nothing paid")
	o, _ := s.order("mallory", id)
	assert.Equal(t, events.Submitted, o.Status, "the order stays where the forgery stopped it")
}
