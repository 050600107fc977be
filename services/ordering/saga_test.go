package main

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dapr/durabletask-go/api"
	"github.com/dapr/durabletask-go/api/protos"
	"github.com/dapr/durabletask-go/backend"
	"github.com/dapr/durabletask-go/backend/sqlite"
	"github.com/dapr/durabletask-go/workflow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// The saga's unit tests run the real workflow and activities on
// durabletask-go's own engine (the one inside daprd), in memory, with fakes
// for catalog, payment, the order store and the bus: every branch in
// milliseconds, without sidecars. The integration tests prove the wiring.

var errDown = errors.New("service unavailable")

// fakeStock is catalog's reservations: one product with stock, holds per order.
type fakeStock struct {
	mu        sync.Mutex
	stock     int
	price     money.Money       // the product's price
	held      map[string]int    // order → quantity on hold
	state     map[string]string // order → reserved, rejected, released, committed
	failFirst int               // the first calls fail
	down      bool              // every call fails
	calls     int
}

func (f *fakeStock) fail() error {
	f.calls++
	if f.down || f.calls <= f.failFirst {
		return errDown
	}
	return nil
}

func (f *fakeStock) Reserve(_ context.Context, id string, lines []events.Line) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return "", err
	}
	if s, ok := f.state[id]; ok {
		if s == "reserved" || s == "committed" {
			return "", nil
		}
		return events.StockRejected, nil
	}
	qty := 0
	for _, l := range lines {
		if l.UnitPrice != f.price {
			f.state[id] = "rejected"
			return events.PriceChanged, nil
		}
		qty += l.Quantity
	}
	if qty > f.stock {
		f.state[id] = "rejected"
		return events.StockRejected, nil
	}
	f.stock -= qty
	f.held[id] = qty
	f.state[id] = "reserved"
	return "", nil
}

func (f *fakeStock) settle(id, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail(); err != nil {
		return err
	}
	switch f.state[id] {
	case "reserved":
		if to == "released" {
			f.stock += f.held[id]
		}
		delete(f.held, id)
		f.state[id] = to
	case "":
		f.state[id] = to // a mark: a late reserve holds nothing
	}
	return nil
}

func (f *fakeStock) Commit(_ context.Context, id string) error  { return f.settle(id, "committed") }
func (f *fakeStock) Release(_ context.Context, id string) error { return f.settle(id, "released") }

func (f *fakeStock) snapshot(id string) (stock int, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stock, f.state[id]
}

func (f *fakeStock) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// fakePayments approves unless declined; it counts authorizations and voids.
type fakePayments struct {
	mu         sync.Mutex
	declined   bool
	failFirst  int
	down       bool
	calls      int
	authorized map[string]int // order → authorizations made
	voided     map[string]bool
}

func (f *fakePayments) Authorize(_ context.Context, id, token string, amount money.Money) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down || f.calls <= f.failFirst {
		return false, errDown
	}
	if token == "" || amount.Amount <= 0 {
		return false, errors.New("bad request")
	}
	if f.voided[id] {
		return false, nil
	}
	if !f.declined && f.authorized[id] == 0 {
		f.authorized[id]++
	}
	return !f.declined, nil
}

func (f *fakePayments) Void(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.voided[id] = true
	return nil
}

// fakeOrders is the order store, with ETags.
type fakeOrders struct {
	mu     sync.Mutex
	orders map[string]Order
	etags  map[string]int
}

func (f *fakeOrders) Get(_ context.Context, id string) (Order, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	if !ok {
		return Order{}, "", ErrNotFound
	}
	o.History = slices.Clone(o.History)
	return o, strconv.Itoa(f.etags[id]), nil
}

func (f *fakeOrders) Create(ctx context.Context, o Order) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.orders[o.ID]; !ok {
		f.orders[o.ID] = o
	}
	return nil
}

func (f *fakeOrders) Save(_ context.Context, o Order, etag string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if etag != strconv.Itoa(f.etags[o.ID]) {
		return errConflict
	}
	f.orders[o.ID] = o
	f.etags[o.ID]++
	return nil
}

// fakeBus records what is published; the first publishes may fail.
type fakeBus struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	published []events.StatusChange
}

func (f *fakeBus) StatusChanged(_ context.Context, c events.StatusChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failFirst {
		return errDown
	}
	f.published = append(f.published, c)
	return nil
}

func (f *fakeBus) statuses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.published {
		if !slices.Contains(out, c.Status) {
			out = append(out, c.Status)
		}
	}
	return out
}

// world is one saga with its fakes, on an engine of its own.
type world struct {
	stock    *fakeStock
	payments *fakePayments
	orders   *fakeOrders
	bus      *fakeBus
	client   *workflow.Client
}

func newWorld(t *testing.T) *world {
	w := &world{
		stock:    &fakeStock{stock: 5, price: money.EUR(1200), held: map[string]int{}, state: map[string]string{}},
		payments: &fakePayments{authorized: map[string]int{}, voided: map[string]bool{}},
		orders:   &fakeOrders{orders: map[string]Order{}, etags: map[string]int{}},
		bus:      &fakeBus{},
	}
	s := &saga{steps: steps{stock: w.stock, payments: w.payments, orders: w.orders, events: w.bus}}
	registry := workflow.NewRegistry()
	require.NoError(t, s.register(registry))
	w.client = startEngine(t, registry)
	return w
}

// startEngine runs durabletask-go's engine on an in-memory SQLite backend
// behind its gRPC API (as daprd serves it) and a worker for registry.
func startEngine(t *testing.T, registry *workflow.Registry) *workflow.Client {
	ctx, cancel := context.WithCancel(context.Background())
	logger := backend.DefaultLogger()
	be := sqlite.NewSqliteBackend(sqlite.NewSqliteOptions(""), logger)
	server := grpc.NewServer()
	executor, register := backend.NewGrpcExecutor(be, logger)
	register(server)
	fast := backend.WithMaxParallelism(4)
	hub := backend.NewTaskHubWorker(be, backend.NewWorkflowWorker(backend.WorkflowWorkerOptions{Backend: be, Executor: executor, Logger: logger}, fast),
		backend.NewActivityTaskWorker(be, executor, logger, fast), logger)
	require.NoError(t, hub.Start(ctx))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go server.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	client := workflow.NewClient(conn)
	require.NoError(t, client.StartWorker(ctx, registry))
	t.Cleanup(func() {
		cancel()
		conn.Close()
		server.Stop()
		sctx, done := context.WithTimeout(context.Background(), time.Second)
		defer done()
		_ = hub.Shutdown(sctx)
	})
	return client
}

func checkout(id string) events.Checkout {
	return events.Checkout{OrderID: id, UserID: "ann", CardToken: "tok_1", Total: money.EUR(2400),
		Lines: []events.Line{{ProductID: "lamp", Name: "Lamp", UnitPrice: money.EUR(1200), Quantity: 2}}}
}

func (w *world) order(t *testing.T, id string) Order {
	t.Helper()
	o, _, err := w.orders.Get(context.Background(), id)
	require.NoError(t, err)
	return o
}

func (w *world) waitStatus(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if o, _, err := w.orders.Get(context.Background(), id); err == nil && o.Status == status {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("order %s never reached %s", id, status)
}

func history(o Order) []string {
	var out []string
	for _, h := range o.History {
		out = append(out, h.Status)
	}
	return out
}

func TestSaga(t *testing.T) {
	const id = "order-1"
	cases := []struct {
		name    string
		setup   func(w *world)
		in      sagaInput
		during  func(t *testing.T, w *world)
		status  string
		reason  string
		history []string
		stock   int    // left on the shelf
		hold    string // catalog's reservation at the end
		paid    int    // authorizations made
		voided  bool
	}{
		{
			name:    "approved",
			status:  events.Paid,
			history: []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid},
			stock:   3, hold: "committed", paid: 1,
		},
		{
			name:   "declined: cancelled, never paid, stock back",
			setup:  func(w *world) { w.payments.declined = true },
			status: events.Cancelled, reason: events.PaymentDeclined,
			history: []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Cancelled},
			stock:   5, hold: "released",
		},
		{
			name:   "rejected: not enough stock, payment never asked",
			setup:  func(w *world) { w.stock.stock = 1 },
			status: events.Cancelled, reason: events.StockRejected,
			history: []string{events.Submitted, events.AwaitingStock, events.Cancelled},
			stock:   1, hold: "rejected",
		},
		{
			name:   "price changed: cancelled, payment never asked",
			setup:  func(w *world) { w.stock.price = money.EUR(1300) },
			status: events.Cancelled, reason: events.PriceChanged,
			history: []string{events.Submitted, events.AwaitingStock, events.Cancelled},
			stock:   5, hold: "rejected",
		},
		{
			name: "cancelled in the grace period: nothing touched",
			in:   sagaInput{Grace: time.Minute},
			during: func(t *testing.T, w *world) {
				w.waitStatus(t, id, events.Submitted)
				require.NoError(t, w.client.RaiseEvent(context.Background(), id, cancelEvent))
			},
			status: events.Cancelled, reason: events.UserCancelled,
			history: []string{events.Submitted, events.Cancelled},
			stock:   5,
		},
		{
			name: "transient failures everywhere, then success",
			setup: func(w *world) {
				w.stock.failFirst, w.payments.failFirst, w.bus.failFirst = 2, 2, 1
			},
			status:  events.Paid,
			history: []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid},
			stock:   3, hold: "committed", paid: 1,
		},
		{
			name:  "payment down past the budget: cancelled, stock released, authorization voided",
			setup: func(w *world) { w.payments.down = true },
			in:    sagaInput{Budget: 30 * time.Millisecond},
			during: func(t *testing.T, w *world) {
				w.waitStatus(t, id, events.Cancelled)
				w.payments.mu.Lock()
				w.payments.down = false // back: the void goes through
				w.payments.mu.Unlock()
			},
			status: events.Cancelled, reason: events.PaymentUnavailable,
			history: []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Cancelled},
			stock:   5, hold: "released", voided: true,
		},
		{
			name:  "catalog down past the budget: cancelled, released once catalog is back",
			setup: func(w *world) { w.stock.down = true },
			in:    sagaInput{Budget: 30 * time.Millisecond},
			during: func(t *testing.T, w *world) {
				w.waitStatus(t, id, events.Cancelled)
				w.stock.setDown(false)
			},
			status: events.Cancelled, reason: events.CatalogUnavailable,
			history: []string{events.Submitted, events.AwaitingStock, events.Cancelled},
			stock:   5, hold: "released",
		},
		{
			name: "paid, then shipped",
			during: func(t *testing.T, w *world) {
				w.waitStatus(t, id, events.Paid)
				require.NoError(t, w.client.RaiseEvent(context.Background(), id, shipEvent))
			},
			status:  events.Shipped,
			history: []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid, events.Shipped},
			stock:   3, hold: "committed", paid: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			var during func()
			if tc.during != nil {
				during = func() { tc.during(t, w) }
			}
			if tc.status == events.Paid {
				// A paid order waits for "ship": check it, then let it end.
				inner := during
				during = func() {
					if inner != nil {
						inner()
					}
					w.waitStatus(t, id, events.Paid)
					require.NoError(t, w.client.TerminateWorkflow(context.Background(), id))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			in := tc.in
			in.Checkout = checkout(id)
			in.FirstRetry = time.Millisecond
			_, err := w.client.ScheduleWorkflow(ctx, checkoutWorkflow, workflow.WithInstanceID(id), workflow.WithInput(in))
			require.NoError(t, err)
			if during != nil {
				during()
			}
			md, err := w.client.WaitForWorkflowCompletion(ctx, id)
			require.NoError(t, err)
			require.NotEqual(t, protos.OrchestrationStatus_ORCHESTRATION_STATUS_FAILED, md.RuntimeStatus, "failure: %v", md.FailureDetails)

			o := w.order(t, id)
			assert.Equal(t, tc.status, o.Status)
			assert.Equal(t, tc.reason, o.Reason)
			assert.Equal(t, tc.history, history(o))
			announced := slices.DeleteFunc(slices.Clone(tc.history), func(s string) bool { return !events.Announced(s) })
			assert.Equal(t, announced, w.bus.statuses(), "every status others act on is published, the steps between are not")
			stock, hold := w.stock.snapshot(id)
			assert.Equal(t, tc.stock, stock, "stock on the shelf")
			assert.Equal(t, tc.hold, hold, "catalog's reservation")
			assert.Equal(t, tc.paid, w.payments.authorized[id], "authorizations")
			assert.Equal(t, tc.voided, w.payments.voided[id], "voided")
		})
	}
}

// A step re-run after a crash (the engine delivers it again) changes nothing.
func TestStepsAreIdempotent(t *testing.T) {
	w := newWorld(t)
	s := steps{stock: w.stock, payments: w.payments, orders: w.orders, events: w.bus}
	ctx, c := context.Background(), checkout("order-2")
	for range 2 {
		require.NoError(t, s.createOrder(ctx, c, "t0"))
		status, err := s.reserveStock(ctx, c, "t1")
		require.NoError(t, err)
		require.Equal(t, events.StockConfirmed, status)
		status, err = s.takePayment(ctx, c, "t2")
		require.NoError(t, err)
		require.Equal(t, events.Paid, status)
	}
	o := w.order(t, "order-2")
	assert.Equal(t, []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Paid}, history(o))
	assert.Equal(t, "t2", o.History[3].At, "a status keeps its first time")
	stock, hold := w.stock.snapshot("order-2")
	assert.Equal(t, 3, stock)
	assert.Equal(t, "committed", hold)
	assert.Equal(t, 1, w.payments.authorized["order-2"])

	// Giving up on a paid order keeps it paid.
	status, err := s.giveUp(ctx, c, events.PaymentUnavailable, "t3", true)
	require.NoError(t, err)
	assert.Equal(t, events.Paid, status)
	assert.Equal(t, events.Paid, w.order(t, "order-2").Status)
	assert.False(t, w.payments.voided["order-2"])
}

func TestCheckCheckout(t *testing.T) {
	assert.NoError(t, checkCheckout(checkout("o1")))
	variant := checkout("o1")
	variant.Lines = slices.Clone(variant.Lines)
	variant.Lines[0].SKU = variant.Lines[0].ProductID + ".large"
	assert.NoError(t, checkCheckout(variant), "a variant of the line's product")
	for name, change := range map[string]func(c *events.Checkout){
		"no order id":               func(c *events.Checkout) { c.OrderID = "" },
		"no user":                   func(c *events.Checkout) { c.UserID = "" },
		"no card token":             func(c *events.Checkout) { c.CardToken = "" },
		"no lines":                  func(c *events.Checkout) { c.Lines = nil },
		"a line without id":         func(c *events.Checkout) { c.Lines[0].ProductID = "" },
		"zero quantity":             func(c *events.Checkout) { c.Lines[0].Quantity, c.Total = 0, money.EUR(0) },
		"a free line":               func(c *events.Checkout) { c.Lines[0].UnitPrice, c.Total = money.EUR(0), money.EUR(0) },
		"a negative price":          func(c *events.Checkout) { c.Lines[0].UnitPrice, c.Total = money.EUR(-1200), money.EUR(-2400) },
		"a total too low":           func(c *events.Checkout) { c.Total = money.EUR(1) },
		"another currency":          func(c *events.Checkout) { c.Total = money.Money{Amount: 2400, Currency: "USD"} },
		"too many lines":            func(c *events.Checkout) { c.Lines = slices.Repeat(c.Lines, maxCheckoutLines+1) },
		"an overflowing line":       func(c *events.Checkout) { c.Lines[0].UnitPrice, c.Lines[0].Quantity = money.EUR(1<<62), 4 },
		"another product's variant": func(c *events.Checkout) { c.Lines[0].SKU = "chefs-knife.24-cm" },
	} {
		c := checkout("o1")
		c.Lines = slices.Clone(c.Lines)
		change(&c)
		assert.Error(t, checkCheckout(c), name)
	}
}

// TestASettledOrderIsNeverStartedAgain: a redelivered checkout, a retried
// one or an idempotency key used twice names the order's saga again. Once
// the order has settled and its saga's history is purged (the retention
// policy), the workflow engine would start that id afresh and take stock
// and payment a second time; the order itself says no.
func TestASettledOrderIsNeverStartedAgain(t *testing.T) {
	ctx := context.Background()
	const id = "order-settled"
	w := newWorld(t)
	wf := &workflows{client: w.client, orders: w.orders}
	in := sagaInput{Checkout: checkout(id)}
	w.payments.declined = true

	// Twice at once, as two deliveries of one event: one saga.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.NoError(t, wf.Start(ctx, in)) })
	}
	wg.Wait()
	_, err := w.client.WaitForWorkflowCompletion(ctx, id)
	require.NoError(t, err)
	require.Equal(t, events.Cancelled, w.order(t, id).Status)
	require.NoError(t, w.client.PurgeWorkflowState(ctx, id))

	w.payments.declined = false
	require.NoError(t, wf.Start(ctx, in))
	_, err = w.client.FetchWorkflowMetadata(ctx, id)
	require.ErrorIs(t, err, api.ErrInstanceNotFound, "a settled order's saga was started again")
	assert.Equal(t, 5, w.stock.stock, "stock taken after the order settled")
	assert.Empty(t, w.payments.authorized, "payment taken after the order settled")
	assert.Equal(t, []string{events.Submitted, events.AwaitingStock, events.StockConfirmed, events.Cancelled}, history(w.order(t, id)))
}
