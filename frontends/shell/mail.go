package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/mux"
)

// The admin's Mail pages: what the shop's e-mails said, read from the
// local Mailpit's API (BAZAAR_MAIL_URL). Mailpit's own web UI is not in its
// Go module, so the shop shows the mail itself: the text version, escaped
// (never a message's HTML inside the shop's page).

// mailReader reads Mailpit's API.
type mailReader struct {
	base   string // "" when no Mailpit runs
	client *http.Client
}

func newMailReader(base string) *mailReader {
	return &mailReader{base: strings.TrimSuffix(base, "/"), client: &http.Client{Timeout: 5 * time.Second}}
}

type mailSummary struct {
	ID, From, To, Subject, Created string
}

type mailMessage struct {
	mailSummary
	Text string
}

type mailpitAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

func (a mailpitAddress) String() string { return a.Address }

func (m mailReader) get(ctx context.Context, path string, out any) error {
	if m.base == "" {
		return fmt.Errorf("no Mailpit runs")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit answered %d", resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}

// recent lists the last 50 messages, newest first.
func (m mailReader) recent(ctx context.Context) ([]mailSummary, error) {
	var out struct {
		Messages []struct {
			ID      string           `json:"ID"`
			From    mailpitAddress   `json:"From"`
			To      []mailpitAddress `json:"To"`
			Subject string           `json:"Subject"`
			Created time.Time        `json:"Created"`
		} `json:"messages"`
	}
	if err := m.get(ctx, "/api/v1/messages?limit=50", &out); err != nil {
		return nil, err
	}
	list := make([]mailSummary, 0, len(out.Messages))
	for _, msg := range out.Messages {
		list = append(list, mailSummary{ID: msg.ID, From: msg.From.String(), To: joinAddresses(msg.To), Subject: msg.Subject,
			Created: msg.Created.UTC().Format("2006-01-02 15:04:05")})
	}
	return list, nil
}

func (m mailReader) message(ctx context.Context, id string) (mailMessage, error) {
	var msg struct {
		ID      string           `json:"ID"`
		From    mailpitAddress   `json:"From"`
		To      []mailpitAddress `json:"To"`
		Subject string           `json:"Subject"`
		Date    time.Time        `json:"Date"`
		Text    string           `json:"Text"`
	}
	if err := m.get(ctx, "/api/v1/message/"+url.PathEscape(id), &msg); err != nil {
		return mailMessage{}, err
	}
	return mailMessage{mailSummary: mailSummary{ID: msg.ID, From: msg.From.String(), To: joinAddresses(msg.To), Subject: msg.Subject,
		Created: msg.Date.UTC().Format("2006-01-02 15:04:05")}, Text: msg.Text}, nil
}

func joinAddresses(list []mailpitAddress) string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}

var mailIDRE = regexp.MustCompile(`^[A-Za-z0-9]{8,64}$`)

const noMail = "The mail cannot be read right now: is Mailpit running (compose.yaml, extensions[dapr].mail)?"

func (s *Shell) mailPage() http.Handler {
	return s.adminPage("Mail", func(r *http.Request) (templ.Component, int) {
		list, err := s.mail.recent(r.Context())
		if err != nil {
			s.log.WarnContext(r.Context(), "mail", "err", err)
			return mailMain(nil, noMail), http.StatusServiceUnavailable
		}
		return mailMain(list, ""), http.StatusOK
	})
}

func (s *Shell) mailMessagePage() http.Handler {
	return s.adminPage("Mail", func(r *http.Request) (templ.Component, int) {
		id := mux.Vars(r)["id"]
		if !mailIDRE.MatchString(id) {
			return errorMain(http.StatusNotFound, "No such message", "There is no message at this address."), http.StatusNotFound
		}
		msg, err := s.mail.message(r.Context(), id)
		if err != nil {
			s.log.WarnContext(r.Context(), "mail", "err", err)
			return errorMain(http.StatusNotFound, "No such message", "Mailpit has no message with this id."), http.StatusNotFound
		}
		return mailMessageMain(msg), http.StatusOK
	})
}
