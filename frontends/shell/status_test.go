package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/harness"
)

// The status page lists whatever the roster says runs, each replica
// included, and no app it does not list: there is no list of its own.
func TestStatusShowsWhatRuns(t *testing.T) {
	healthy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok v9\n") })
	f := &fakeServices{apps: map[string]http.Handler{"basket": healthy, "notification": healthy, "shell": healthy, "zz-new-app": healthy}}
	renewed := time.Now().Add(-3 * time.Second)
	running := func(context.Context) ([]replica, error) {
		return []replica{
			{AppID: "basket", Address: "127.0.0.1:7001", Renewed: renewed},
			{AppID: "basket", Address: "127.0.0.1:7002", Renewed: renewed},
			{AppID: "notification", Address: "127.0.0.1:7003", Renewed: renewed},
			{AppID: "payment", Address: "127.0.0.1:7004", Renewed: renewed}, // listed, but does not answer
			{AppID: "shell", Address: "127.0.0.1:7005", Renewed: renewed},
			{AppID: "zz-new-app", Address: "127.0.0.1:7006", Renewed: renewed},
		}, nil
	}
	cfg := daprapp.Config{AppToken: "app-token"}
	h := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, f, newStatusChecker(cfg, f, running, ""), nil, newTraceReader(""), newMailReader(""))
	w, doc := get(t, h, "/pages/status", nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "payment is down")
	var services []string
	doc.Find(".shell-table tbody tr").Each(func(_ int, row *goquery.Selection) {
		services = append(services, row.Find("th").Text())
	})
	assert.Equal(t, []string{"basket", "notification", "payment", "shell", "zz-new-app"}, services)
	var replicas []string
	doc.Find("[data-replica]").Each(func(_ int, li *goquery.Selection) { replicas = append(replicas, li.AttrOr("data-replica", "")) })
	assert.Equal(t, []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003", "127.0.0.1:7004", "127.0.0.1:7005", "127.0.0.1:7006"}, replicas)
	assert.Contains(t, doc.Find(".shell-table").Text(), "renewed 3s ago")
	assert.Equal(t, 1, doc.Find(".shell-health--down").Length())
	assert.Equal(t, 4, doc.Find(".shell-health--up").Length())

	// Without the name-resolution table, the page says so instead of
	// guessing.
	noRoster := func(context.Context) ([]replica, error) { return nil, errors.New("no table") }
	h = NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, f, newStatusChecker(cfg, f, noRoster, ""), nil, newTraceReader(""), newMailReader(""))
	w, doc = get(t, h, "/pages/status", nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, doc.Find(".shell-problem").Text(), "Which apps run is unknown")
}

// TestStatusPageListsEveryReplica runs every service, two replicas of each
// but the gateway, and checks that the status page shows every one of them,
// as the runner started them, notification and the shell included.
func TestStatusPageListsEveryReplica(t *testing.T) {
	sys := harness.Start(t, harness.Options{Profile: "embedded", Replicas: 2, Env: map[string]string{"GATEWAY_RATE_PER_SECOND": "1000"}})
	base := sys.App("gateway").AppURL()
	want := map[string][]string{}
	for _, a := range sys.Apps {
		want[a.AppID] = append(want[a.AppID], a.InternalAddr())
	}
	require.Contains(t, want, "notification")
	require.Contains(t, want, "shell")
	require.Len(t, want["shell"], 2)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, doc, _ := page(t, base, "/status", nil)
		assert.Equal(c, http.StatusOK, status, "%s", doc.Find(".shell-problem").Text())
		got := map[string][]string{}
		doc.Find(".shell-table tbody tr").Each(func(_ int, row *goquery.Selection) {
			app := strings.TrimSpace(row.Find("th").Text())
			row.Find("[data-replica]").Each(func(_ int, li *goquery.Selection) { got[app] = append(got[app], li.AttrOr("data-replica", "")) })
		})
		for app, addrs := range want {
			assert.ElementsMatch(c, addrs, got[app], app)
		}
		assert.Len(c, got, len(want), "apps that do not run: %v", got)
		assert.Equal(c, len(want), doc.Find(".shell-health--up").Length(), "every app healthy")
	}, 60*time.Second, harness.Poll)
}
