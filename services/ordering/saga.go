package main

import (
	"context"
	"time"

	"github.com/dapr/durabletask-go/workflow"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/telemetry"
)

// The checkout saga: one durable Dapr Workflow instance per order, with the
// order id as instance id, so a redelivered checkout event cannot start a
// second one.
//
//	submitted ─(grace period; "cancel" → cancelled/user_cancelled)→ awaiting_stock
//	  → reserve stock (catalog) ── rejected → cancelled/stock_rejected
//	  → stock_confirmed → authorize payment (payment, gRPC)
//	      ── declined → cancelled/payment_declined (never paid), stock released
//	  → paid, stock committed ─("ship" from an admin)→ shipped
//
// A step that fails is retried on durable timers (they survive any crash)
// within a budget. A step that is still failing when the budget is spent
// (catalog or payment down for minutes) does not strand the order: it ends
// cancelled/catalog_unavailable or cancelled/payment_unavailable, and its
// stock is released and any authorization voided, retried until done.
//
// This file only sequences; the steps themselves are plain functions in
// steps.go. The workflow must be deterministic: time comes from the workflow
// context and every side effect is an activity.

// Names the workflow and its activities are registered under. They are part
// of the stored workflow history: renaming one breaks running instances.
const (
	checkoutWorkflow = "checkout"
	createOrderStep  = "create-order"
	reserveStep      = "reserve-stock"
	paymentStep      = "take-payment"
	recordStep       = "record-status"
	giveUpStep       = "give-up"
)

// Workflow event names.
const (
	cancelEvent = "cancel"
	shipEvent   = "ship"
)

// DefaultStepBudget is how long a step that calls catalog or payment is
// retried before the order is given up.
const DefaultStepBudget = 2 * time.Minute

// attemptTimeout bounds one try of a step, so that a hung call is retried.
const attemptTimeout = 10 * time.Second

// sagaInput is what a workflow instance starts with; it is stored with the
// instance, so a restarted service with other settings does not change the
// course of orders already running.
type sagaInput struct {
	Checkout events.Checkout `json:"checkout"`
	Grace    time.Duration   `json:"grace"`
	// Budget bounds the retries of a step that calls another service;
	// FirstRetry is the wait before the first retry, doubled each time.
	Budget     time.Duration `json:"budget"`
	FirstRetry time.Duration `json:"firstRetry"`
	// Trace is the checkout's W3C traceparent: each step's span joins the
	// trace that began with the customer's POST /api/basket/checkout.
	Trace string `json:"trace,omitempty"`
}

// sagaSettings are the saga's settings, read once at start.
type sagaSettings struct {
	Grace  time.Duration // ORDERING_GRACE_PERIOD
	Budget time.Duration // ORDERING_STEP_BUDGET
}

func (s sagaSettings) input(c events.Checkout) sagaInput {
	return sagaInput{Checkout: c, Grace: s.Grace, Budget: s.Budget, FirstRetry: DefaultFirstRetry}
}

// stepInput is an activity's input: the order, and the workflow's time.
type stepInput struct {
	Checkout events.Checkout `json:"checkout"`
	At       string          `json:"at"`
	Status   string          `json:"status,omitempty"` // record-status
	Reason   string          `json:"reason,omitempty"` // record-status, give-up
	Void     bool            `json:"void,omitempty"`   // give-up: payment may have been asked
	Trace    string          `json:"trace,omitempty"`  // sagaInput.Trace
}

// saga runs the steps as workflow activities.
type saga struct{ steps steps }

func (s *saga) register(r *workflow.Registry) error {
	if err := r.AddWorkflowN(checkoutWorkflow, s.checkout); err != nil {
		return err
	}
	for name, a := range map[string]func(context.Context, stepInput) (any, error){
		createOrderStep: func(ctx context.Context, in stepInput) (any, error) {
			return nil, s.steps.createOrder(ctx, in.Checkout, in.At)
		},
		recordStep: func(ctx context.Context, in stepInput) (any, error) {
			_, err := s.steps.record(ctx, in.Checkout.OrderID, in.Status, in.Reason, in.At)
			return nil, err
		},
		reserveStep: func(ctx context.Context, in stepInput) (any, error) {
			return s.steps.reserveStock(ctx, in.Checkout, in.At)
		},
		paymentStep: func(ctx context.Context, in stepInput) (any, error) {
			return s.steps.takePayment(ctx, in.Checkout, in.At)
		},
		giveUpStep: func(ctx context.Context, in stepInput) (any, error) {
			return s.steps.giveUp(ctx, in.Checkout, in.Reason, in.At, in.Void)
		},
	} {
		if err := r.AddActivityN(name, activity(name, a)); err != nil {
			return err
		}
	}
	return nil
}

// activity adapts a step to the workflow runtime: it decodes the input,
// bounds one attempt and traces it as a span of the checkout's trace.
func activity(name string, step func(context.Context, stepInput) (any, error)) workflow.Activity {
	return func(ctx workflow.ActivityContext) (any, error) {
		var in stepInput
		if err := ctx.GetInput(&in); err != nil {
			return nil, err
		}
		rc, cancel := context.WithTimeout(telemetry.WithTraceParent(ctx.Context(), in.Trace), attemptTimeout)
		defer cancel()
		rc, span := telemetry.Tracer().Start(rc, "saga "+name, trace.WithAttributes(attribute.String("order.id", in.Checkout.OrderID)))
		defer span.End()
		start, outcome := time.Now(), "ok"
		out, err := step(rc, in)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			outcome = "error"
		}
		stepDuration.WithLabelValues(name, outcome).Observe(time.Since(start).Seconds())
		return out, err
	}
}

// checkout is the workflow.
func (s *saga) checkout(ctx *workflow.WorkflowContext) (any, error) {
	var in sagaInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	at := func() string { return ctx.CurrentTimeUTC().Format(time.RFC3339Nano) }
	step := func(name string, policy *workflow.RetryPolicy, input stepInput, out any) error {
		input.Checkout, input.At, input.Trace = in.Checkout, at(), in.Trace
		return ctx.CallActivity(name, workflow.WithActivityInput(input), workflow.WithActivityRetryPolicy(policy)).Await(out)
	}
	own, remote := untilDone(in.FirstRetry), withinBudget(in.Budget, in.FirstRetry)

	if err := step(createOrderStep, own, stepInput{}, nil); err != nil {
		return nil, err
	}
	if in.Grace > 0 {
		// A "cancel" within the grace period wins; the timeout moves on.
		if err := ctx.WaitForExternalEvent(cancelEvent, in.Grace).Await(nil); err == nil {
			return events.Cancelled, step(recordStep, own, stepInput{Status: events.Cancelled, Reason: events.UserCancelled}, nil)
		}
	}
	var status string
	if err := step(reserveStep, remote, stepInput{}, &status); err != nil {
		err = step(giveUpStep, own, stepInput{Reason: events.CatalogUnavailable}, &status)
		return status, err
	}
	if status == events.Cancelled {
		return status, nil
	}
	if err := step(paymentStep, remote, stepInput{}, &status); err != nil {
		err = step(giveUpStep, own, stepInput{Reason: events.PaymentUnavailable, Void: true}, &status)
		return status, err
	}
	if status == events.Cancelled {
		return status, nil
	}
	if err := ctx.WaitForExternalEvent(shipEvent, -1).Await(nil); err != nil {
		return nil, err
	}
	return events.Shipped, step(recordStep, own, stepInput{Status: events.Shipped}, nil)
}

// DefaultFirstRetry is the wait before a failed step's first retry.
const DefaultFirstRetry = 250 * time.Millisecond

// withinBudget retries a step that calls another service for budget, backing
// off from first to 15 s on durable timers.
func withinBudget(budget, first time.Duration) *workflow.RetryPolicy {
	if budget <= 0 {
		budget = DefaultStepBudget
	}
	p := untilDone(first)
	p.MaxRetryInterval, p.RetryTimeout = 15*time.Second, budget
	return p
}

// untilDone retries a step that must complete (the order's own records, and
// compensation) until it does, at most every 30 s.
func untilDone(first time.Duration) *workflow.RetryPolicy {
	if first <= 0 {
		first = DefaultFirstRetry
	}
	return &workflow.RetryPolicy{MaxAttempts: 1 << 30, InitialRetryInterval: first,
		BackoffCoefficient: 2, MaxRetryInterval: 30 * time.Second}
}
