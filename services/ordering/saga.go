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
// Every status change is stored and then published as order.status-changed
// inside an activity. The workflow engine re-runs an activity that did not
// complete, and every step in one is idempotent (a status is stored once,
// stock holds and payment authorizations are keyed by order), so a crash
// between storing and publishing still publishes; the event carries a key
// (order id + status) that consumers deduplicate on.

// Workflow event names.
const (
	cancelEvent = "cancel"
	shipEvent   = "ship"
)

type saga struct {
	orders *orderStore
	dapr   messenger
	invoke *daprapp.Invoker
	log    *slog.Logger
}

// messenger is what the saga's activities need of the sidecar beyond state.
type messenger interface {
	PublishEvent(ctx context.Context, pubsub, topic string, data any, opts ...dapr.PublishEventOption) error
	InvokeMethodWithContent(ctx context.Context, appID, method, verb string, content *dapr.DataContent) ([]byte, error)
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
	for _, a := range []workflow.Activity{s.CreateOrder, s.RecordStatus, s.ReserveStock, s.TakePayment} {
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
		return ctx.CallActivity(s.RecordStatus, workflow.ActivityInput(statusInput{OrderID: id, Status: status, Reason: reason, At: now(ctx)})).Await(nil)
	}
	in.Checkout.Lines = append([]events.Line(nil), in.Checkout.Lines...)
	if err := ctx.CallActivity(s.CreateOrder, workflow.ActivityInput(stepInput{Checkout: in.Checkout, At: now(ctx)})).Await(nil); err != nil {
		return nil, err
	}
	if in.Grace > 0 {
		// A "cancel" within the grace period wins; the timeout moves on.
		if err := ctx.WaitForExternalEvent(cancelEvent, in.Grace).Await(nil); err == nil {
			return events.Cancelled, step(events.Cancelled, events.UserCancelled)
		}
	}
	// Each remaining activity does one piece of work and records the
	// statuses around it, so that the saga has few steps (each step is a
	// round trip through the workflow engine and a write of its history).
	var status string
	if err := ctx.CallActivity(s.ReserveStock, workflow.ActivityInput(stepInput{Checkout: in.Checkout, At: now(ctx)})).Await(&status); err != nil {
		return nil, err
	}
	if status == events.Cancelled {
		return status, nil
	}
	if err := ctx.CallActivity(s.TakePayment, workflow.ActivityInput(stepInput{Checkout: in.Checkout, At: now(ctx)})).Await(&status); err != nil {
		return nil, err
	}
	if status == events.Cancelled {
		return status, nil
	}
	if err := ctx.WaitForExternalEvent(shipEvent, -1).Await(nil); err != nil {
		return nil, err
	}
	return events.Shipped, step(events.Shipped, "")
}

// stepInput is an activity's input: the order, and the workflow's time.
type stepInput struct {
	Checkout events.Checkout `json:"checkout"`
	At       string          `json:"at"`
}

// now is the workflow's deterministic clock, as stored in status history.
func now(ctx *workflow.WorkflowContext) string {
	return ctx.CurrentUTCDateTime().Format(time.RFC3339Nano)
}

// CreateOrder stores the new order as submitted, lists it for its user and
// announces it.
func (s *saga) CreateOrder(ctx workflow.ActivityContext) (any, error) {
	var in stepInput
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
	return nil, s.record(ctx.Context(), in)
}

// record stores a status change once and publishes it at least once.
func (s *saga) record(ctx context.Context, in statusInput) error {
	return retry(ctx, s.log, "record "+in.Status, func(rc context.Context) error {
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

// ReserveStock records awaiting_stock, asks catalog to hold every line, and
// records the outcome: stock_confirmed, or cancelled/stock_rejected. It
// returns the order's status.
func (s *saga) ReserveStock(ctx workflow.ActivityContext) (any, error) {
	var in stepInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	c, rc := in.Checkout, ctx.Context()
	if err := s.record(rc, statusInput{OrderID: c.OrderID, Status: events.AwaitingStock, At: in.At}); err != nil {
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
	err := retry(rc, s.log, "reserve stock", func(rc context.Context) error {
		status, body, err := s.call(rc, "catalog", http.MethodPost, "/reservations", req)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("catalog answered %d", status)
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(body, &res)
	})
	if err != nil {
		return nil, err
	}
	if res.Status != "reserved" {
		return events.Cancelled, s.record(rc, statusInput{OrderID: c.OrderID, Status: events.Cancelled, Reason: events.StockRejected, At: in.At})
	}
	return events.StockConfirmed, s.record(rc, statusInput{OrderID: c.OrderID, Status: events.StockConfirmed, At: in.At})
}

// TakePayment asks payment (a gRPC app) to authorize the order total. If it
// is approved, the stock reservation is committed and the order is paid;
// if not, the stock goes back on the shelf first and the order is cancelled,
// so a declined order is never paid. It returns the order's status.
func (s *saga) TakePayment(ctx workflow.ActivityContext) (any, error) {
	var in stepInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	c, rc := in.Checkout, ctx.Context()
	body, _ := json.Marshal(map[string]any{"orderId": c.OrderID, "token": c.CardToken, "amount": c.Total})
	var out struct {
		Approved bool   `json:"approved"`
		Reason   string `json:"reason"`
	}
	err := retry(rc, s.log, "authorize payment", func(rc context.Context) error {
		resp, err := s.dapr.InvokeMethodWithContent(rc, "payment", "authorize", http.MethodPost,
			&dapr.DataContent{ContentType: "application/json", Data: body})
		if err != nil {
			return err
		}
		return json.Unmarshal(resp, &out)
	})
	if err != nil {
		return nil, err
	}
	if !out.Approved {
		if err := s.settle(rc, c.OrderID, "release"); err != nil {
			return nil, err
		}
		return events.Cancelled, s.record(rc, statusInput{OrderID: c.OrderID, Status: events.Cancelled, Reason: events.PaymentDeclined, At: in.At})
	}
	if err := s.settle(rc, c.OrderID, "commit"); err != nil {
		return nil, err
	}
	return events.Paid, s.record(rc, statusInput{OrderID: c.OrderID, Status: events.Paid, At: in.At})
}

// settle releases or commits the order's stock reservation (both idempotent).
func (s *saga) settle(ctx context.Context, id, action string) error {
	return retry(ctx, s.log, action+" stock", func(rc context.Context) error {
		status, _, err := s.call(rc, "catalog", http.MethodPost, "/reservations/"+id+"/"+action, nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("catalog answered %d", status)
		}
		return err
	})
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
