package main

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/events"
)

// shelf is an in-memory OrderReader; it lists orders by id, which the tests
// choose in the order they want them listed.
type shelf map[string]Order

func (s shelf) Get(_ context.Context, id string) (Order, string, error) {
	o, ok := s[id]
	if !ok {
		return Order{}, "", ErrNotFound
	}
	return o, "1", nil
}

func (s shelf) ForUser(_ context.Context, user string) ([]Summary, error) {
	return s.list(func(o Order) bool { return o.UserID == user }), nil
}

func (s shelf) Recent(context.Context) ([]Summary, error) {
	return s.list(func(Order) bool { return true }), nil
}

func (s shelf) list(keep func(Order) bool) []Summary {
	out := []Summary{}
	for _, id := range slices.Sorted(maps.Keys(s)) {
		if keep(s[id]) {
			out = append(out, Summary{ID: id, Status: s[id].Status})
		}
	}
	return out
}

// raised is a fake Sagas: it records the events raised, as "id:event".
type raised []string

func (r *raised) Raise(_ context.Context, id, event string) error {
	*r = append(*r, id+":"+event)
	return nil
}

var (
	ann   = Viewer{UserID: "ann"}
	bob   = Viewer{UserID: "bob"}
	admin = Viewer{UserID: "root", Admin: true}
)

func testOrders() shelf {
	return shelf{
		"ann-submitted-1": {ID: "ann-submitted-1", UserID: "ann", Status: events.Submitted},
		"ann-paid-0001":   {ID: "ann-paid-0001", UserID: "ann", Status: events.Paid},
		"ann-shipped-01":  {ID: "ann-shipped-01", UserID: "ann", Status: events.Shipped},
		"bob-paid-00001":  {ID: "bob-paid-00001", UserID: "bob", Status: events.Paid},
	}
}

func TestOrderOwnership(t *testing.T) {
	o := Ordering{orders: testOrders(), sagas: &raised{}}
	for _, tc := range []struct {
		name string
		v    Viewer
		id   string
		err  error
	}{
		{"its owner", ann, "ann-paid-0001", nil},
		{"an admin", admin, "ann-paid-0001", nil},
		{"someone else: as if it did not exist", bob, "ann-paid-0001", ErrNotFound},
		{"no such order", ann, "missing-order", ErrNotFound},
		{"not an order id", ann, "../x", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := o.Order(context.Background(), tc.v, tc.id)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Empty(t, got.ID, "nothing of the order leaks")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.id, got.ID)
		})
	}
}

func TestTrack(t *testing.T) {
	o := Ordering{orders: testOrders(), sagas: &raised{}}
	placeholder := Order{ID: "ann-paid-0001", Status: events.Submitted}
	for _, tc := range []struct {
		name  string
		v     Viewer
		id    string
		want  Order
		found bool
		err   error
	}{
		{"its owner", ann, "ann-paid-0001", testOrders()["ann-paid-0001"], true, nil},
		{"an admin", admin, "ann-paid-0001", testOrders()["ann-paid-0001"], true, nil},
		{"not stored yet: a placeholder", ann, "not-yet-stored", Order{ID: "not-yet-stored", Status: events.Submitted}, false, nil},
		{"someone else's: the same placeholder", bob, "ann-paid-0001", placeholder, false, nil},
		{"not an order id", ann, "../x", Order{}, false, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := o.Track(context.Background(), tc.v, tc.id)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.found, found)
		})
	}
}

func TestCancelAndShip(t *testing.T) {
	notAllowed := func(step, status string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var tr *TransitionError
			require.ErrorAs(t, err, &tr)
			assert.Equal(t, TransitionError{Step: step, Status: status}, *tr)
		}
	}
	is := func(want error) func(*testing.T, error) {
		return func(t *testing.T, err error) { assert.ErrorIs(t, err, want) }
	}
	for _, tc := range []struct {
		name   string
		step   func(Ordering, context.Context, Viewer, string) (Order, error)
		v      Viewer
		id     string
		raised []string
		check  func(*testing.T, error) // nil: no error
	}{
		{"cancel in the grace period", Ordering.Cancel, ann, "ann-submitted-1", []string{"ann-submitted-1:cancel"}, nil},
		{"an admin cancels anyone's", Ordering.Cancel, admin, "ann-submitted-1", []string{"ann-submitted-1:cancel"}, nil},
		{"cancel too late: paid", Ordering.Cancel, ann, "ann-paid-0001", nil, notAllowed(cancelEvent, events.Paid)},
		{"cancel too late: shipped", Ordering.Cancel, ann, "ann-shipped-01", nil, notAllowed(cancelEvent, events.Shipped)},
		{"cancel someone else's: not found", Ordering.Cancel, bob, "ann-submitted-1", nil, is(ErrNotFound)},
		{"cancel a missing order", Ordering.Cancel, ann, "missing-order", nil, is(ErrNotFound)},
		{"ship a paid order", Ordering.Ship, admin, "ann-paid-0001", []string{"ann-paid-0001:ship"}, nil},
		{"ship an unpaid order", Ordering.Ship, admin, "ann-submitted-1", nil, notAllowed(shipEvent, events.Submitted)},
		{"ship twice", Ordering.Ship, admin, "ann-shipped-01", nil, notAllowed(shipEvent, events.Shipped)},
		{"ship a missing order", Ordering.Ship, admin, "missing-order", nil, is(ErrNotFound)},
		{"a customer ships their own", Ordering.Ship, ann, "ann-paid-0001", nil, is(ErrForbidden)},
		{"a customer ships a missing order: not told it is missing", Ordering.Ship, ann, "missing-order", nil, is(ErrForbidden)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sagas := new(raised)
			_, err := tc.step(Ordering{orders: testOrders(), sagas: sagas}, context.Background(), tc.v, tc.id)
			if tc.check == nil {
				require.NoError(t, err)
			} else {
				tc.check(t, err)
			}
			assert.Equal(t, tc.raised, []string(*sagas), "events raised on the saga")
		})
	}
}

func TestLists(t *testing.T) {
	o := Ordering{orders: testOrders(), sagas: &raised{}}
	ids := func(list []Summary) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		list func(Ordering, context.Context, Viewer) ([]Summary, error)
		v    Viewer
		want []string
		err  error
	}{
		{"a user's own orders", Ordering.Mine, ann, []string{"ann-paid-0001", "ann-shipped-01", "ann-submitted-1"}, nil},
		{"an admin's own are theirs only", Ordering.Mine, admin, nil, nil},
		{"an admin lists everyone's", Ordering.Recent, admin, []string{"ann-paid-0001", "ann-shipped-01", "ann-submitted-1", "bob-paid-00001"}, nil},
		{"a customer may not", Ordering.Recent, ann, nil, ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := tc.list(o, context.Background(), tc.v)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Nil(t, list)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(list))
		})
	}
}
