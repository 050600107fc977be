package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/workflow"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/events"
)

// The checkout saga: one durable workflow instance per order, with the order
// id as instance id, so a redelivered checkout event cannot start a second.
//
//	submitted ─(grace period; "cancel" → cancelled/user_cancelled)→ awaiting_stock
//	  → reserve stock (catalog) ── rejected → cancelled/stock_rejected
//	  → stock_confirmed → authorize payment (payment, gRPC)
//	      ── declined → release stock → cancelled/payment_declined (never paid)
//	  → commit stock → paid ─("ship" from an admin)→ shipped
//
// Every status change is an activity that stores the status and then
// publishes order.status-changed. The workflow engine re-runs an activity
// that did not complete, so a crash between the two still publishes; the
// event carries a key (order id + status) that consumers deduplicate on.

// Workflow event names.
const (
	cancelEvent = "cancel"
	shipEvent   = "ship"
)

type saga struct {
	orders *orderStore
	dapr   dapr.Client
	invoke *daprapp.Invoker
	log    *slog.Logger
}

// sagaInput is what a workflow instance starts with.
type sagaInput struct {
	Checkout events.Checkout `json:"checkout"`
	Grace    time.Duration   `json:"grace"`
}

// statusInput asks RecordStatus to move an order on.
type statusInput struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	At      string `json:"at"`
}

func (s *saga) register(w *workflow.WorkflowWorker) error {
	if err := w.RegisterWorkflow(s.Checkout); err != nil {
		return err
	}
	for _, a := range []workflow.Activity{s.CreateOrder, s.RecordStatus, s.ReserveStock, s.AuthorizePayment, s.ReleaseStock, s.CommitStock} {
		if err := w.RegisterActivity(a); err != nil {
			return err
		}
	}
	return nil
}

// Checkout is the workflow. It must be deterministic: time comes from the
// workflow context and every side effect is an activity.
func (s *saga) Checkout(ctx *workflow.WorkflowContext) (any, error) {
	var in sagaInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	id := in.Checkout.OrderID
	step := func(status, reason string) error {
		return ctx.CallActivity(s.RecordStatus, workflow.ActivityInput(statusInput{
			OrderID: id, Status: status, Reason: reason, At: ctx.CurrentUTCDateTime().Format(time.RFC3339Nano)})).Await(nil)
	}
	in.Checkout.Lines = append([]events.Line(nil), in.Checkout.Lines...)
	if err := ctx.CallActivity(s.CreateOrder, workflow.ActivityInput(createInput{Checkout: in.Checkout,
		At: ctx.CurrentUTCDateTime().Format(time.RFC3339Nano)})).Await(nil); err != nil {
		return nil, err
	}
	if in.Grace > 0 {
		// A "cancel" within the grace period wins; the timeout moves on.
		if err := ctx.WaitForExternalEvent(cancelEvent, in.Grace).Await(nil); err == nil {
			return events.Cancelled, step(events.Cancelled, events.UserCancelled)
		}
	}
	if err := step(events.AwaitingStock, ""); err != nil {
		return nil, err
	}
	var held bool
	if err := ctx.CallActivity(s.ReserveStock, workflow.ActivityInput(in.Checkout)).Await(&held); err != nil {
		return nil, err
	}
	if !held {
		return events.Cancelled, step(events.Cancelled, events.StockRejected)
	}
	if err := step(events.StockConfirmed, ""); err != nil {
		return nil, err
	}
	var approved bool
	if err := ctx.CallActivity(s.AuthorizePayment, workflow.ActivityInput(in.Checkout)).Await(&approved); err != nil {
		return nil, err
	}
	if !approved {
		if err := ctx.CallActivity(s.ReleaseStock, workflow.ActivityInput(id)).Await(nil); err != nil {
			return nil, err
		}
		return events.Cancelled, step(events.Cancelled, events.PaymentDeclined)
	}
	if err := ctx.CallActivity(s.CommitStock, workflow.ActivityInput(id)).Await(nil); err != nil {
		return nil, err
	}
	if err := step(events.Paid, ""); err != nil {
		return nil, err
	}
	if err := ctx.WaitForExternalEvent(shipEvent, -1).Await(nil); err != nil {
		return nil, err
	}
	return events.Shipped, step(events.Shipped, "")
}

type createInput struct {
	Checkout events.Checkout `json:"checkout"`
	At       string          `json:"at"`
}

// CreateOrder stores the new order as submitted, lists it for its user and
// announces it.
func (s *saga) CreateOrder(ctx workflow.ActivityContext) (any, error) {
	var in createInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	c := in.Checkout
	return nil, retry(ctx.Context(), s.log, "create order", func(rc context.Context) error {
		if _, _, err := s.orders.Get(rc, c.OrderID); errors.Is(err, ErrNotFound) {
			o := Order{ID: c.OrderID, UserID: c.UserID, Status: events.Submitted, Lines: c.Lines, Total: c.Total,
				Address: c.Address, CreatedAt: in.At, History: []Step{{Status: events.Submitted, At: in.At}}}
			if err := s.orders.save(rc, o, ""); err != nil && !errors.Is(err, errConflict) {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := s.orders.index(rc, c.UserID, c.OrderID); err != nil {
			return err
		}
		return s.publish(rc, events.StatusChange{OrderID: c.OrderID, UserID: c.UserID, Status: events.Submitted, Lines: c.Lines, At: in.At})
	})
}

// RecordStatus stores a status change (once) and publishes it (at least once).
func (s *saga) RecordStatus(ctx workflow.ActivityContext) (any, error) {
	var in statusInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	return nil, retry(ctx.Context(), s.log, "record "+in.Status, func(rc context.Context) error {
		o, etag, err := s.orders.Get(rc, in.OrderID)
		if err != nil {
			return err
		}
		if !o.reached(in.Status) {
			o.Status, o.Reason = in.Status, in.Reason
			o.History = append(o.History, Step{Status: in.Status, Reason: in.Reason, At: in.At})
			if err := s.orders.save(rc, o, etag); err != nil {
				return err
			}
		}
		return s.publish(rc, events.StatusChange{OrderID: o.ID, UserID: o.UserID, Status: in.Status, Reason: in.Reason, At: in.At})
	})
}

func (o Order) reached(status string) bool {
	for _, h := range o.History {
		if h.Status == status {
			return true
		}
	}
	return false
}

func (s *saga) publish(ctx context.Context, c events.StatusChange) error {
	return s.dapr.PublishEvent(ctx, events.PubSub, events.OrderStatusChanged, c, dapr.PublishEventWithContentType("application/json"))
}

// ReserveStock asks catalog to hold every line; false means not enough stock.
func (s *saga) ReserveStock(ctx workflow.ActivityContext) (any, error) {
	var c events.Checkout
	if err := ctx.GetInput(&c); err != nil {
		return nil, err
	}
	type line struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
	req := struct {
		OrderID string `json:"orderId"`
		Lines   []line `json:"lines"`
	}{OrderID: c.OrderID}
	for _, l := range c.Lines {
		req.Lines = append(req.Lines, line{l.ProductID, l.Quantity})
	}
	var res struct {
		Status string `json:"status"`
	}
	err := retry(ctx.Context(), s.log, "reserve stock", func(rc context.Context) error {
		status, body, err := s.call(rc, "catalog", http.MethodPost, "/reservations", req)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("catalog answered %d", status)
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(body, &res)
	})
	return res.Status == "reserved", err
}

// ReleaseStock puts a reservation back on the shelf.
func (s *saga) ReleaseStock(ctx workflow.ActivityContext) (any, error) {
	return nil, s.settle(ctx, "release")
}

// CommitStock makes a reservation final.
func (s *saga) CommitStock(ctx workflow.ActivityContext) (any, error) {
	return nil, s.settle(ctx, "commit")
}

func (s *saga) settle(ctx workflow.ActivityContext, action string) error {
	var id string
	if err := ctx.GetInput(&id); err != nil {
		return err
	}
	return retry(ctx.Context(), s.log, action+" stock", func(rc context.Context) error {
		status, _, err := s.call(rc, "catalog", http.MethodPost, "/reservations/"+id+"/"+action, nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("catalog answered %d", status)
		}
		return err
	})
}

// AuthorizePayment asks payment (a gRPC app) to authorize the order total.
func (s *saga) AuthorizePayment(ctx workflow.ActivityContext) (any, error) {
	var c events.Checkout
	if err := ctx.GetInput(&c); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{"orderId": c.OrderID, "token": c.CardToken, "amount": c.Total})
	var out struct {
		Approved bool   `json:"approved"`
		Reason   string `json:"reason"`
	}
	err := retry(ctx.Context(), s.log, "authorize payment", func(rc context.Context) error {
		resp, err := s.dapr.InvokeMethodWithContent(rc, "payment", "authorize", http.MethodPost,
			&dapr.DataContent{ContentType: "application/json", Data: body})
		if err != nil {
			return err
		}
		return json.Unmarshal(resp, &out)
	})
	return out.Approved, err
}

// call invokes another app's HTTP API through the sidecars.
func (s *saga) call(ctx context.Context, app, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.invoke.Do(ctx, app, req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, nil
}

// retry runs op until it succeeds, backing off up to 2 s between tries, for
// at most two minutes: the Go SDK has no activity retry policy, and a failed
// activity would fail the whole saga on a passing fault.
func retry(ctx context.Context, log *slog.Logger, what string, op func(context.Context) error) error {
	deadline := time.Now().Add(2 * time.Minute)
	wait := 50 * time.Millisecond
	for {
		rc, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := op(rc)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		log.WarnContext(ctx, "retrying", "what", what, "err", err, "in", wait)
		time.Sleep(wait)
		wait = min(wait*2, 2*time.Second)
	}
}

// taskName is the name the workflow runtime registers a function under.
func taskName(f any) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndexByte(name, '.')+1:]
}
