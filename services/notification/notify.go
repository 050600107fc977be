package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/a-h/templ"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/events"
)

// The notification domain: which order statuses a customer hears about,
// and that each is told once. The address comes from identity, never from
// the event (an event could be forged or stale; identity knows the account).

// Contacts finds a customer's address (identity, over Dapr).
type Contacts interface {
	Contact(ctx context.Context, userID string) (contracts.Contact, error)
}

// Mailer sends one message (Dapr's SMTP output binding).
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Sent remembers which messages went out, by key (Dapr state).
type Sent interface {
	Sent(ctx context.Context, key string) (bool, error)
	MarkSent(ctx context.Context, key string) error
}

// Message is one e-mail.
type Message struct {
	To, Subject string
	Body        templ.Component // HTML
}

// ErrUnknownCustomer means identity has no account for the event's user:
// nobody to tell (the event is dropped).
var ErrUnknownCustomer = errors.New("unknown customer")

// Notifier tells customers what happened to their orders.
type Notifier struct {
	contacts Contacts
	mailer   Mailer
	sent     Sent
	shopURL  string // links in messages point here
	log      *slog.Logger
}

// StatusChanged sends the message for a status that matters (paid,
// cancelled with its reason, shipped), once per order and status: a
// redelivered event finds it sent. A crash between sending and remembering
// sends it again (at least once: a lost confirmation is worse than two).
func (n *Notifier) StatusChanged(ctx context.Context, c events.StatusChange) error {
	subject, body := n.compose(c)
	if body == nil {
		return nil // not one customers are told about
	}
	key := "sent:" + c.Key()
	if done, err := n.sent.Sent(ctx, key); err != nil || done {
		return err
	}
	to, err := n.contacts.Contact(ctx, c.UserID)
	if errors.Is(err, ErrUnknownCustomer) {
		n.log.WarnContext(ctx, "no account for an order's customer: nobody to tell", "order", c.OrderID, "status", c.Status)
		return nil
	}
	if err != nil {
		return fmt.Errorf("find the customer: %w", err)
	}
	if err := n.mailer.Send(ctx, Message{To: to.Email, Subject: subject, Body: body(to.Name)}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	n.log.InfoContext(ctx, "customer told", "order", c.OrderID, "status", c.Status)
	return n.sent.MarkSent(ctx, key)
}

// compose picks the message for a status: its subject and its body (for
// the customer's name); nil for statuses customers are not told about.
func (n *Notifier) compose(c events.StatusChange) (string, func(name string) templ.Component) {
	order := orderView{ID: c.OrderID, Short: events.ShortID(c.OrderID), Link: n.shopURL + "/orders/" + c.OrderID}
	switch c.Status {
	case events.Paid:
		return "Your order " + order.Short + " is confirmed", func(name string) templ.Component { return paidMail(name, order) }
	case events.Shipped:
		return "Your order " + order.Short + " is on its way", func(name string) templ.Component { return shippedMail(name, order) }
	case events.Cancelled:
		return "Your order " + order.Short + " is cancelled", func(name string) templ.Component { return cancelledMail(name, order, events.ReasonText(c.Reason)) }
	}
	return "", nil
}

type orderView struct{ ID, Short, Link string }
