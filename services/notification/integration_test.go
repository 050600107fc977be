package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// mailpitMessage is a message as Mailpit's API lists it.
type mailpitMessage struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	To      []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// mailTo lists the messages Mailpit received for address.
func mailTo(t *testing.T, mail, address string) []mailpitMessage {
	t.Helper()
	status, _, body := harness.Call(t, http.MethodGet, mail+"/api/v1/search?query="+url.QueryEscape("to:"+address), nil, "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	var out struct{ Messages []mailpitMessage }
	require.NoError(t, json.Unmarshal(body, &out))
	return out.Messages
}

// TestOrderEmails places orders through the real services and reads back
// from Mailpit what the customers were told, in both profiles.
func TestOrderEmails(t *testing.T) {
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			sys := harness.Start(t, harness.Options{Profile: profile,
				Services: []string{"catalog", "basket", "ordering", "payment", "identity", "notification"},
				Extra:    []compose.Service{harness.Probe("gateway")},
				Env:      map[string]string{"ORDERING_GRACE_PERIOD": "0s"}})
			require.NotEmpty(t, sys.MailURL)
			users := harness.NewUsers(sys)
			checkout := func(user, key, card string) string { return checkout(t, sys, users, user, key, card) }
			waitMail := func(address string, n int) []mailpitMessage { return waitMail(t, sys, address, n) }

			t.Run("a paid order: one confirmation, at the customer's address", func(t *testing.T) {
				id := checkout("nora", "mail-paid-0001", "4242424242424242")
				got := waitMail("nora@example.test", 1)
				require.Len(t, got, 1)
				assert.Equal(t, "Your order "+strings.ToUpper(id[:10])+" is confirmed", got[0].Subject)
				// The order's other statuses (submitted, stock confirmed)
				// send nothing, and nothing comes later.
				time.Sleep(3 * time.Second)
				assert.Len(t, mailTo(t, sys.MailURL, "nora@example.test"), 1)
			})

			t.Run("a declined card: a cancellation with the reason", func(t *testing.T) {
				id := checkout("otto", "mail-declined-01", "4000000000000002")
				got := waitMail("otto@example.test", 1)
				require.Len(t, got, 1)
				assert.Equal(t, "Your order "+strings.ToUpper(id[:10])+" is cancelled", got[0].Subject)
				status, _, body := harness.Call(t, http.MethodGet, sys.MailURL+"/api/v1/message/"+got[0].ID, nil, "")
				require.Equal(t, http.StatusOK, status)
				var msg struct{ HTML string }
				require.NoError(t, json.Unmarshal(body, &msg))
				assert.Contains(t, msg.HTML, "Your card was declined. Nothing was charged.")
			})

			t.Run("a redelivered event sends no second e-mail", func(t *testing.T) {
				id := checkout("pia", "mail-redeliver1", "4242424242424242")
				waitMail("pia@example.test", 1)
				// Ordering's own sidecar publishes the same status again, as a
				// redelivery after a crash would.
				ordering := sys.App("ordering")
				again, _ := json.Marshal(events.StatusChange{OrderID: id, UserID: users.ID(t, "pia"), Status: events.Paid, At: time.Now().UTC().Format(time.RFC3339Nano)})
				status, _, body := harness.Call(t, http.MethodPost, ordering.SidecarURL()+"/v1.0/publish/events/"+events.OrderStatusChanged,
					http.Header{"Dapr-Api-Token": {ordering.APIToken}, "Content-Type": {"application/json"}}, string(again))
				require.Equal(t, http.StatusNoContent, status, "%s", body)
				time.Sleep(5 * time.Second)
				assert.Len(t, mailTo(t, sys.MailURL, "pia@example.test"), 1)
			})
		})
	}
}

// checkout places an order of one headlamp for user through the gateway's
// sidecar (the probe standing in for it).
func checkout(t *testing.T, sys *runner.System, users *harness.Users, user, key, card string) string {
	token := harness.Bearer(users.Token(t, user))
	from := sys.App("gateway")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Invoke(t, from, "basket", http.MethodPut, "basket/items/headlamp", token, `{"quantity":1}`)
		assert.Equal(c, http.StatusOK, status, "%s", body)
	}, 30*time.Second, harness.Poll)
	h := token.Clone()
	h.Set("Idempotency-Key", key)
	status, _, body := harness.Invoke(t, from, "basket", http.MethodPost, "basket/checkout", h,
		`{"shippingAddress":{"name":"N","street":"1 Mail St","city":"Lyon","postalCode":"69001","country":"FR"},"card":{"number":"`+card+`","expiry":"12/39","cvc":"123"}}`)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var out struct{ OrderID string }
	require.NoError(t, json.Unmarshal(body, &out))
	return out.OrderID
}

// waitMail waits until Mailpit holds at least n messages to address.
func waitMail(t *testing.T, sys *runner.System, address string, n int) []mailpitMessage {
	var got []mailpitMessage
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got = mailTo(t, sys.MailURL, address)
		assert.GreaterOrEqual(c, len(got), n, "messages to %s", address)
	}, 45*time.Second, harness.Poll)
	return got
}

// TestMailWaitsForTheMailCatcherBuild starts the shop as `make run` does on
// a fresh machine, before Mailpit is built: the e-mail of an order paid
// meanwhile is sent once Mailpit joins, exactly once.
func TestMailWaitsForTheMailCatcherBuild(t *testing.T) {
	tools := t.TempDir() // no Mailpit in it yet
	sys := harness.Start(t, harness.Options{Profile: "embedded",
		Services: []string{"catalog", "basket", "ordering", "payment", "identity", "notification"},
		Extra:    []compose.Service{harness.Probe("gateway")},
		Env:      map[string]string{"ORDERING_GRACE_PERIOD": "0s"},
		ToolsBin: tools, ToolsBuilding: true})
	require.NotEmpty(t, sys.MailURL)
	require.NotContains(t, sys.InfraPIDs(), "mailpit")
	users := harness.NewUsers(sys)
	id := checkout(t, sys, users, "quinn", "mail-late-00001", "4242424242424242")
	// The order is paid while no mail server listens: the e-mail waits.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, body := harness.Invoke(t, sys.App("gateway"), "ordering", http.MethodGet, "orders/"+id, harness.Bearer(users.Token(t, "quinn")), "")
		assert.Equal(c, http.StatusOK, status)
		assert.Contains(c, string(body), `"status":"paid"`)
	}, 45*time.Second, harness.Poll)
	time.Sleep(3 * time.Second) // a few failed sends
	// The build ends: the binary appears.
	built, err := os.ReadFile(filepath.Join(harness.Root(), "bin", "mailpit"))
	require.NoError(t, err, "make tools builds bin/mailpit")
	require.NoError(t, os.WriteFile(filepath.Join(tools, "mailpit"), built, 0o755))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(sys.MailURL + "/api/v1/info")
		if assert.NoError(c, err, "Mailpit has not joined yet") {
			resp.Body.Close()
		}
	}, 30*time.Second, harness.Poll)
	assert.Contains(t, sys.InfraPIDs(), "mailpit", "supervised like the rest")
	got := waitMail(t, sys, "quinn@example.test", 1)
	assert.Equal(t, "Your order "+strings.ToUpper(id[:10])+" is confirmed", got[0].Subject)
	time.Sleep(3 * time.Second)
	assert.Len(t, mailTo(t, sys.MailURL, "quinn@example.test"), 1, "sent once")
}
