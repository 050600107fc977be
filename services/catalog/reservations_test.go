package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/contracts"
	"github.com/bazaar-shop/bazaar/internal/money"
)

// fakeReservations is an in-memory Reservations with versions. before, when
// set, runs at the start of Create: a stand-in for a concurrent call that
// writes between this call's read and its write.
type fakeReservations struct {
	items    map[string]Reservation
	versions map[string]int
	before   func()
	fail     error
}

func newFakeReservations() *fakeReservations {
	return &fakeReservations{items: map[string]Reservation{}, versions: map[string]int{}}
}

func (f *fakeReservations) Get(_ context.Context, orderID string) (Reservation, string, bool, error) {
	if f.fail != nil {
		return Reservation{}, "", false, f.fail
	}
	r, ok := f.items[orderID]
	return r, strconv.Itoa(f.versions[orderID]), ok, nil
}

func (f *fakeReservations) Create(_ context.Context, r Reservation) error {
	if before := f.before; before != nil {
		f.before = nil
		before()
	}
	if _, ok := f.items[r.OrderID]; ok {
		return ErrReservationExists
	}
	f.items[r.OrderID], f.versions[r.OrderID] = r, 1
	return nil
}

func (f *fakeReservations) Replace(_ context.Context, r Reservation, etag string) error {
	if strconv.Itoa(f.versions[r.OrderID]) != etag {
		return errors.New("etag mismatch")
	}
	f.items[r.OrderID] = r
	f.versions[r.OrderID]++
	return nil
}

func line(productID string, qty int) ReservationLine {
	return ReservationLine{ProductID: productID, Quantity: qty}
}

// priced is l at the unit price the customer was shown, in cents.
func priced(l ReservationLine, cents int64) ReservationLine {
	price := money.EUR(cents)
	l.UnitPrice = &price
	return l
}

// shelfState is a product's stock and the order's hold on it.
type shelfState struct{ stock, held int }

func stateOf(f *fakeProducts, id, orderID string) shelfState {
	return shelfState{f.items[id].Stock, f.items[id].Holds[orderID]}
}

func TestReserve(t *testing.T) {
	// Seed stock: headlamp 55, workbench-vise 8, wool-blanket 11.
	lines := func(ls ...ReservationLine) ReservationRequest { return ReservationRequest{OrderID: "o1", Lines: ls} }
	for _, tt := range []struct {
		name   string
		req    ReservationRequest
		setup  func(*fakeProducts, *fakeReservations)
		status string
		reason string
		err    error
		want   map[string]shelfState
	}{
		{
			name:   "every line held",
			req:    lines(line("headlamp", 5), line("workbench-vise", 8)),
			status: contracts.Reserved,
			want:   map[string]shelfState{"headlamp": {50, 5}, "workbench-vise": {0, 8}},
		},
		{
			name:   "one line short: none held",
			req:    lines(line("headlamp", 5), line("workbench-vise", 9), line("wool-blanket", 1)),
			status: contracts.Rejected, reason: contracts.OutOfStock,
			want: map[string]shelfState{"headlamp": {55, 0}, "workbench-vise": {8, 0}, "wool-blanket": {11, 0}},
		},
		{
			name:   "unknown product: none held",
			req:    lines(line("headlamp", 5), line("nope", 1)),
			status: contracts.Rejected, reason: contracts.UnknownProduct,
			want: map[string]shelfState{"headlamp": {55, 0}},
		},
		{
			name: "a line at the price catalog asks: held",
			req:  lines(priced(line("headlamp", 5), 2900)),
			setup: func(f *fakeProducts, _ *fakeReservations) {
				p := f.items["headlamp"]
				p.Price = money.EUR(2900)
				f.items["headlamp"] = p
			},
			status: contracts.Reserved,
			want:   map[string]shelfState{"headlamp": {50, 5}},
		},
		{
			name: "a line at another price: none held",
			req:  lines(line("workbench-vise", 1), priced(line("headlamp", 5), 100)),
			setup: func(f *fakeProducts, _ *fakeReservations) {
				p := f.items["headlamp"]
				p.Price = money.EUR(2900)
				f.items["headlamp"] = p
			},
			status: contracts.Rejected, reason: contracts.PriceChanged,
			want: map[string]shelfState{"headlamp": {55, 0}, "workbench-vise": {8, 0}},
		},
		{
			name: "asked again: the first answer, nothing taken twice",
			req:  lines(line("headlamp", 5)),
			setup: func(f *fakeProducts, r *fakeReservations) {
				_, err := Stock{f, r}.Reserve(context.Background(), lines(line("headlamp", 5)))
				require.NoError(t, err)
			},
			status: contracts.Reserved,
			want:   map[string]shelfState{"headlamp": {50, 5}},
		},
		{
			name: "asked again after a rejection: still rejected",
			req:  lines(line("headlamp", 5)),
			setup: func(f *fakeProducts, r *fakeReservations) {
				_, err := Stock{f, r}.Reserve(context.Background(), lines(line("headlamp", 500)))
				require.NoError(t, err)
			},
			status: contracts.Rejected, reason: contracts.OutOfStock,
			want: map[string]shelfState{"headlamp": {55, 0}},
		},
		{
			name: "a retry after a crash skips the lines held",
			req:  lines(line("headlamp", 5), line("workbench-vise", 2)),
			setup: func(f *fakeProducts, _ *fakeReservations) {
				p := f.items["headlamp"]
				p.Stock, p.Holds = 50, map[string]int{"o1": 5}
				f.items["headlamp"] = p
			},
			status: contracts.Reserved,
			want:   map[string]shelfState{"headlamp": {50, 5}, "workbench-vise": {6, 2}},
		},
		{
			name: "released before it arrived: holds nothing",
			req:  lines(line("headlamp", 5)),
			setup: func(f *fakeProducts, r *fakeReservations) {
				_, err := Stock{f, r}.Release(context.Background(), "o1")
				require.NoError(t, err)
			},
			status: contracts.Released,
			want:   map[string]shelfState{"headlamp": {55, 0}},
		},
		{
			name: "released while on its way: the holds go back",
			req:  lines(line("headlamp", 5)),
			setup: func(f *fakeProducts, r *fakeReservations) {
				r.before = func() { r.items["o1"] = Reservation{OrderID: "o1", Status: contracts.Released} }
			},
			status: contracts.Released,
			want:   map[string]shelfState{"headlamp": {55, 0}},
		},
		{
			name: "the same reservation twice at once: the holds stay with it",
			req:  lines(line("headlamp", 5)),
			setup: func(f *fakeProducts, r *fakeReservations) {
				r.before = func() {
					r.items["o1"] = Reservation{OrderID: "o1", Status: contracts.Reserved, Lines: []ReservationLine{line("headlamp", 5)}}
				}
			},
			status: contracts.Reserved,
			want:   map[string]shelfState{"headlamp": {50, 5}},
		},
		{
			name:  "invalid",
			req:   ReservationRequest{OrderID: "o1", Lines: []ReservationLine{line("headlamp", 0), line("headlamp", 1001)}},
			err:   &InvalidError{},
			want:  map[string]shelfState{"headlamp": {55, 0}},
			setup: func(*fakeProducts, *fakeReservations) {},
		},
		{
			name: "the store fails: the lines held so far stay held for the retry",
			req:  lines(line("headlamp", 5), line("workbench-vise", 2)),
			setup: func(f *fakeProducts, _ *fakeReservations) {
				f.failChange = map[string]error{"workbench-vise": errors.New("sidecar down")}
			},
			err:  errors.New("sidecar down"),
			want: map[string]shelfState{"headlamp": {50, 5}, "workbench-vise": {8, 0}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, r := newFakeProducts(), newFakeReservations()
			if tt.setup != nil {
				tt.setup(f, r)
			}
			got, err := Stock{f, r}.Reserve(context.Background(), tt.req)
			switch want := tt.err.(type) {
			case nil:
				require.NoError(t, err)
				assert.Equal(t, tt.status, got.Status)
				assert.Equal(t, tt.reason, got.Reason)
				assert.Equal(t, got, r.items["o1"], "the answer is what is stored")
			case *InvalidError:
				var invalid *InvalidError
				require.ErrorAs(t, err, &invalid)
				assert.Contains(t, invalid.Fields, "lines[0].quantity")
				assert.Contains(t, invalid.Fields, "lines[1].quantity")
				assert.Contains(t, invalid.Fields, "lines[1].productId")
			default:
				assert.EqualError(t, err, want.Error())
			}
			for id, want := range tt.want {
				assert.Equal(t, want, stateOf(f, id, "o1"), id)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	reserve := func(t *testing.T, s Stock) {
		t.Helper()
		got, err := s.Reserve(context.Background(), ReservationRequest{OrderID: "o1", Lines: []ReservationLine{line("headlamp", 5)}})
		require.NoError(t, err)
		require.Equal(t, contracts.Reserved, got.Status)
	}
	for _, tt := range []struct {
		name    string
		setup   func(*testing.T, Stock)
		settle  func(Stock) func(context.Context, string) (Reservation, error)
		status  string
		err     error
		headlmp shelfState
	}{
		{"release puts the stock back", reserve, Stock.releaseFn, contracts.Released, nil, shelfState{55, 0}},
		{"commit keeps it taken", reserve, Stock.commitFn, contracts.Committed, nil, shelfState{50, 0}},
		{"release twice", func(t *testing.T, s Stock) { reserve(t, s); releaseOK(t, s) }, Stock.releaseFn, contracts.Released, nil, shelfState{55, 0}},
		{"commit after release: stays released", func(t *testing.T, s Stock) { reserve(t, s); releaseOK(t, s) }, Stock.commitFn, contracts.Released, nil, shelfState{55, 0}},
		{"release after commit: stays committed", func(t *testing.T, s Stock) {
			reserve(t, s)
			_, err := s.Commit(context.Background(), "o1")
			require.NoError(t, err)
		}, Stock.releaseFn, contracts.Committed, nil, shelfState{50, 0}},
		{"release of an unknown order leaves a mark", nil, Stock.releaseFn, contracts.Released, nil, shelfState{55, 0}},
		{"commit of an unknown order", nil, Stock.commitFn, "", ErrNoReservation, shelfState{55, 0}},
		{"a rejected reservation holds nothing to settle", func(t *testing.T, s Stock) {
			got, err := s.Reserve(context.Background(), ReservationRequest{OrderID: "o1", Lines: []ReservationLine{line("headlamp", 500)}})
			require.NoError(t, err)
			require.Equal(t, contracts.Rejected, got.Status)
		}, Stock.commitFn, contracts.Rejected, nil, shelfState{55, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, r := newFakeProducts(), newFakeReservations()
			s := Stock{f, r}
			if tt.setup != nil {
				tt.setup(t, s)
			}
			got, err := tt.settle(s)(context.Background(), "o1")
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.status, got.Status)
				assert.Equal(t, got, r.items["o1"])
			}
			assert.Equal(t, tt.headlmp, stateOf(f, "headlamp", "o1"))
		})
	}
	t.Run("a reservation that arrives while the release writes its mark is released", func(t *testing.T) {
		f, r := newFakeProducts(), newFakeReservations()
		s := Stock{f, r}
		r.before = func() { reserve(t, s) }
		got, err := s.Release(context.Background(), "o1")
		require.NoError(t, err)
		assert.Equal(t, contracts.Released, got.Status)
		assert.Equal(t, shelfState{55, 0}, stateOf(f, "headlamp", "o1"))
	})
	t.Run("a store failure is passed on", func(t *testing.T) {
		r := newFakeReservations()
		r.fail = errors.New("sidecar down")
		_, err := Stock{newFakeProducts(), r}.Commit(context.Background(), "o1")
		assert.EqualError(t, err, "sidecar down")
	})
}

func (s Stock) releaseFn() func(context.Context, string) (Reservation, error) { return s.Release }
func (s Stock) commitFn() func(context.Context, string) (Reservation, error)  { return s.Commit }

func releaseOK(t *testing.T, s Stock) {
	t.Helper()
	_, err := s.Release(context.Background(), "o1")
	require.NoError(t, err)
}

// TestReservationEndpoints checks the transport: statuses and bodies.
func TestReservationEndpoints(t *testing.T) {
	f, res := newFakeProducts(), newFakeReservations()
	call := func(path, body string) (int, Reservation, string) {
		w := serveWith(t, f, res, http.MethodPost, path, nil, body)
		var r Reservation
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		return w.Code, r, w.Body.String()
	}
	code, r, _ := call("/reservations", `{"orderId":"o1","lines":[{"productId":"headlamp","quantity":500}]}`)
	assert.Equal(t, http.StatusOK, code, "a rejection is an answer")
	assert.Equal(t, contracts.Rejected, r.Status)
	code, r, _ = call("/reservations", `{"orderId":"o2","lines":[{"productId":"headlamp","quantity":5}]}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, contracts.Reserved, r.Status)
	code, r, _ = call("/reservations/o2/commit", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, contracts.Committed, r.Status)
	code, r, _ = call("/reservations/o3/release", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, contracts.Released, r.Status)
	code, _, body := call("/reservations/o4/commit", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, `"reservation_not_found"`)
	code, _, body = call("/reservations", `{"orderId":"","lines":[]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `"orderId"`)
	assert.Contains(t, body, `"lines"`)
	assert.Equal(t, 50, f.items["headlamp"].Stock)
}
