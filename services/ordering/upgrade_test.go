package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// previousRuntime builds (once, `make dapr-previous`) the Dapr runtime
// Bazaar ran before and the apps as they were on it, and returns the
// runtime's folder (the apps are in its apps/).
func previousRuntime(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test with real sidecars: run without -short")
	}
	previousOnce.Do(func() {
		cmd := exec.Command("make", "--no-print-directory", "dapr-previous")
		cmd.Dir = harness.Root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			previousErr = err
			t.Logf("make dapr-previous:\n%s", out)
		}
	})
	require.NoError(t, previousErr, "build the previous Dapr runtime")
	return filepath.Join(harness.Root(), "bin", "dapr-1.16.0")
}

var (
	previousOnce sync.Once
	previousErr  error
)

// TestUpgradeKeepsTheData runs the shop on Dapr 1.16.0 until its data folder
// holds orders in every status (one of them waiting in its grace period),
// accounts, identity's signing keys and payment's stored card tokens, stops
// it there, and starts today's runtime on the same folder: everything is
// still there and readable, a token signed before the upgrade is still
// accepted, and the waiting saga finishes, paid with the card stored before.
func TestUpgradeKeepsTheData(t *testing.T) {
	previous := previousRuntime(t)
	// The embedded profile only: the servers profile's local Redis keeps
	// nothing on disk (a throwaway, components/servers), so no run of it
	// keeps its data, upgrade or not.
	for _, profile := range []string{"embedded"} {
		t.Run(profile, func(t *testing.T) {
			data := t.TempDir()
			t.Cleanup(func() { os.RemoveAll(runner.PostgresHome(data)) })
			opts := harness.Options{Profile: profile, Services: backends, DataDir: data,
				Extra: []compose.Service{harness.Probe("gateway")},
				// Long enough to place the waiting order and stop before it
				// ends, short enough for the settled orders to settle.
				Env: map[string]string{"ORDERING_GRACE_PERIOD": "15s"}}

			// Before: Dapr 1.16.0, and the apps as they ran on it.
			opts.DaprBin, opts.AppBin = previous, filepath.Join(previous, "apps")
			old := harness.Start(t, opts)
			s := shop{t: t, sys: old, from: old.App("gateway"), users: harness.NewUsers(old)}
			for _, u := range []string{"ann", "bob", "cy", "dee", "eve"} {
				s.add(u, "headlamp", 1)
			}
			paid := s.checkout("ann", "upgrade-paid", approve)
			declined := s.checkout("bob", "upgrade-declined", decline)
			shipped := s.checkout("cy", "upgrade-shipped", approve)
			withdrawn := s.checkout("dee", "upgrade-withdrawn", approve)
			s.waitFor("dee", withdrawn, events.Submitted)
			status, body := s.call("ordering", http.MethodPost, "orders/"+withdrawn+"/cancel", "dee", "")
			require.Contains(t, []int{200, 202}, status, "%s", body)
			s.waitFor("ann", paid, events.Paid)
			s.waitFor("bob", declined, events.Cancelled)
			s.waitFor("cy", shipped, events.Paid)
			status, body = s.call("ordering", http.MethodPost, "orders/"+shipped+"/ship", asAdmin, "")
			require.Contains(t, []int{200, 202}, status, "%s", body)
			s.waitFor("cy", shipped, events.Shipped)
			s.waitFor("dee", withdrawn, events.Cancelled)
			waiting := s.checkout("eve", "upgrade-waiting", approve)
			s.add("fay", "seed-starter-tray", 2) // a basket left as it is
			s.waitFor("eve", waiting, events.Submitted)
			oldToken := s.users.Token(t, "ann")
			before := map[string]Order{}
			for user, id := range map[string]string{"ann": paid, "bob": declined, "cy": shipped, "dee": withdrawn} {
				before[id], _ = s.order(user, id)
			}
			stock, _ := s.stock("headlamp")
			old.Stop() // within the waiting order's grace period

			// After: today's runtime and apps on the same folder.
			opts.DaprBin, opts.AppBin = "", ""
			sys := harness.Start(t, opts)
			s = shop{t: t, sys: sys, from: sys.App("gateway"), users: harness.NewUsers(sys)}
			version, err := os.ReadFile(filepath.Join(data, "dapr-version"))
			require.NoError(t, err)
			assert.NotEqual(t, "1.16.0\n", string(version), "the folder records the runtime that runs on it now")

			for user, id := range map[string]string{"ann": paid, "bob": declined, "cy": shipped, "dee": withdrawn} {
				o, status := s.order(user, id)
				require.Equal(t, 200, status, "order %s after the upgrade", id)
				assert.Equal(t, before[id], o, "order %s changed in the upgrade", id)
			}
			// The saga that waited finishes, paid with the token of the card
			// payment stored before the upgrade.
			o := s.waitWithin(90*time.Second, "eve", waiting, events.Paid, events.Cancelled)
			assert.Equal(t, events.Paid, o.Status, "the waiting order: %+v", o)
			assert.Equal(t, []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid}, statuses(o))
			approved, _, stored := storedAuthorization(t, sys, waiting)
			assert.True(t, stored && approved, "payment authorized the waiting order with its stored card")
			after, _ := s.stock("headlamp")
			assert.Equal(t, stock-1, after, "stock: the waiting order took its one headlamp, no more")

			// identity's signing keys came along: a token signed on 1.16 is
			// accepted, and the accounts still sign in.
			status, _, body = harness.Invoke(t, s.from, "ordering", http.MethodGet, "orders", http.Header{"Authorization": {"Bearer " + oldToken}}, "")
			assert.Equal(t, 200, status, "a token signed before the upgrade: %s", body)
			s.users.Admin(t)
			status, body = s.call("basket", http.MethodGet, "basket", "fay", "")
			assert.Equal(t, 200, status, "%s", body)
			assert.Contains(t, string(body), `"quantity":2`, "fay's basket after the upgrade: %s", body)
		})
	}
}
