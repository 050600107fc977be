package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/contracts"
)

// The notifier's outside parties over Dapr: identity (service invocation),
// the SMTP server (the "mail" output binding) and its own state store.

// identityContacts implements Contacts with identity's contact API.
type identityContacts struct{ invoke contracts.Invoker }

func (c identityContacts) Contact(ctx context.Context, userID string) (contracts.Contact, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, contracts.ContactPath(userID), nil)
	if err != nil {
		return contracts.Contact{}, err
	}
	resp, err := c.invoke.Do(ctx, contracts.IdentityApp, req)
	if err != nil {
		return contracts.Contact{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return contracts.Contact{}, ErrUnknownCustomer
	default:
		return contracts.Contact{}, fmt.Errorf("identity answered %d", resp.StatusCode)
	}
	var out contracts.Contact
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return contracts.Contact{}, err
	}
	return out, nil
}

// binder is what the mailer needs of the Dapr SDK.
type binder interface {
	InvokeOutputBinding(ctx context.Context, in *dapr.InvokeBindingRequest) error
}

// mailBinding implements Mailer with Dapr's bindings.smtp component.
type mailBinding struct {
	dapr binder
	name string // the component's name
}

func (m mailBinding) Send(ctx context.Context, msg Message) error {
	var body bytes.Buffer
	if err := msg.Body.Render(ctx, &body); err != nil {
		return err
	}
	return m.dapr.InvokeOutputBinding(ctx, &dapr.InvokeBindingRequest{Name: m.name, Operation: "create", Data: body.Bytes(),
		Metadata: map[string]string{"emailTo": msg.To, "subject": msg.Subject}})
}

// stateAPI is what the sent-marks need of the Dapr SDK.
type stateAPI interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveState(ctx context.Context, store, key string, data []byte, meta map[string]string, so ...dapr.StateOption) error
}

// sentMarks implements Sent over Dapr state; a mark is kept 90 days, longer
// than any event is redelivered.
type sentMarks struct {
	dapr  stateAPI
	store string
}

func (s sentMarks) Sent(ctx context.Context, key string) (bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, key, nil)
	if err != nil {
		return false, fmt.Errorf("read sent mark: %w", err)
	}
	return len(item.Value) > 0, nil
}

func (s sentMarks) MarkSent(ctx context.Context, key string) error {
	if err := s.dapr.SaveState(ctx, s.store, key, []byte("1"), map[string]string{"ttlInSeconds": "7776000"}); err != nil {
		return fmt.Errorf("save sent mark: %w", err)
	}
	return nil
}
