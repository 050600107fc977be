package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
)

type fakeContacts map[string]contracts.Contact

func (f fakeContacts) Contact(_ context.Context, id string) (contracts.Contact, error) {
	if id == "down" {
		return contracts.Contact{}, errors.New("identity down")
	}
	c, ok := f[id]
	if !ok {
		return contracts.Contact{}, ErrUnknownCustomer
	}
	return c, nil
}

type sentMail struct{ to, subject, html string }

type fakeMailer struct {
	sent []sentMail
	err  error
}

func (f *fakeMailer) Send(ctx context.Context, m Message) error {
	if f.err != nil {
		return f.err
	}
	var b bytes.Buffer
	if err := m.Body.Render(ctx, &b); err != nil {
		return err
	}
	f.sent = append(f.sent, sentMail{m.To, m.Subject, b.String()})
	return nil
}

type fakeSent map[string]bool

func (f fakeSent) Sent(_ context.Context, key string) (bool, error) { return f[key], nil }
func (f fakeSent) MarkSent(_ context.Context, key string) error     { f[key] = true; return nil }

func newNotifier() (*Notifier, *fakeMailer) {
	m := &fakeMailer{}
	return &Notifier{contacts: fakeContacts{"ann": {Email: "ann@example.com", Name: "Ann <b>"}}, mailer: m, sent: fakeSent{},
		shopURL: "https://shop.example", log: slog.New(slog.NewTextHandler(io.Discard, nil))}, m
}

func TestNotifications(t *testing.T) {
	ctx := context.Background()
	change := func(status, reason string) events.StatusChange {
		return events.StatusChange{OrderID: "abcdef0123456789", UserID: "ann", Status: status, Reason: reason}
	}

	t.Run("the statuses that matter, each once", func(t *testing.T) {
		n, m := newNotifier()
		for _, c := range []events.StatusChange{change(events.Submitted, ""), change(events.AwaitingStock, ""),
			change(events.StockConfirmed, ""), change(events.Paid, ""), change(events.Paid, ""), change(events.Shipped, "")} {
			require.NoError(t, n.StatusChanged(ctx, c))
		}
		require.Len(t, m.sent, 2, "a paid and a shipped message; the redelivered paid event sends nothing")
		assert.Equal(t, "ann@example.com", m.sent[0].to)
		assert.Equal(t, "Your order ABCDEF0123 is confirmed", m.sent[0].subject)
		assert.Contains(t, m.sent[0].html, `href="https://shop.example/orders/abcdef0123456789"`)
		assert.Contains(t, m.sent[0].html, "Hello Ann &lt;b&gt;,", "names are escaped")
		assert.Equal(t, "Your order ABCDEF0123 is on its way", m.sent[1].subject)
	})
	t.Run("a cancellation says why", func(t *testing.T) {
		n, m := newNotifier()
		require.NoError(t, n.StatusChanged(ctx, change(events.Cancelled, events.PaymentDeclined)))
		require.Len(t, m.sent, 1)
		assert.Equal(t, "Your order ABCDEF0123 is cancelled", m.sent[0].subject)
		assert.Contains(t, m.sent[0].html, "Your card was declined. Nothing was charged.")
	})
	t.Run("a failed send is retried, not remembered", func(t *testing.T) {
		n, m := newNotifier()
		m.err = errors.New("smtp down")
		require.Error(t, n.StatusChanged(ctx, change(events.Paid, "")))
		m.err = nil
		require.NoError(t, n.StatusChanged(ctx, change(events.Paid, "")))
		assert.Len(t, m.sent, 1)
	})
	t.Run("identity down: retried; no account: nobody to tell", func(t *testing.T) {
		n, m := newNotifier()
		c := change(events.Paid, "")
		c.UserID = "down"
		assert.Error(t, n.StatusChanged(ctx, c))
		c.UserID = "nobody"
		assert.NoError(t, n.StatusChanged(ctx, c))
		assert.Empty(t, m.sent)
	})
}

func TestUnreadableEventsAreDropped(t *testing.T) {
	n, m := newNotifier()
	var logs bytes.Buffer
	h := orderStatusChanged(slog.New(slog.NewTextHandler(&logs, nil)), n)
	for _, data := range []string{`{`, `{"orderId":"x"}`, `[]`} {
		assert.NoError(t, h(context.Background(), eventOf(data)), data)
	}
	assert.Empty(t, m.sent)
	assert.True(t, strings.Count(logs.String(), "cannot be read") == 3)
}

func eventOf(data string) daprapp.Event { return daprapp.Event{ID: "e1", Data: []byte(data)} }
