package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/events"
)

// shelf is an in-memory OrderReader.
type shelf map[string]Order

func (s shelf) Get(_ context.Context, id string) (Order, string, error) {
	o, ok := s[id]
	if !ok {
		return Order{}, "", ErrNotFound
	}
	return o, "1", nil
}

func (s shelf) ForUser(_ context.Context, user string) ([]Summary, error) {
	var out []Summary
	for _, o := range s {
		if o.UserID == user {
			out = append(out, Summary{ID: o.ID, Status: o.Status})
		}
	}
	return out, nil
}

func (s shelf) Recent(context.Context) ([]Summary, error) {
	return s.ForUser(context.Background(), "ann")
}

// raised records the events raised on sagas.
type raised []string

func (r *raised) Start(context.Context, sagaInput) error { return nil }
func (r *raised) Raise(_ context.Context, id, event string) error {
	*r = append(*r, id+":"+event)
	return nil
}

func TestOrdering(t *testing.T) {
	orders := shelf{
		"ann-submitted-1": {ID: "ann-submitted-1", UserID: "ann", Status: events.Submitted},
		"ann-paid-0001":   {ID: "ann-paid-0001", UserID: "ann", Status: events.Paid},
	}
	ann, bob, admin := Viewer{UserID: "ann"}, Viewer{UserID: "bob"}, Viewer{UserID: "root", Admin: true}

	t.Run("who sees an order", func(t *testing.T) {
		o := Ordering{orders: orders, workflows: &raised{}}
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
	})

	for _, tc := range []struct {
		name   string
		step   func(Ordering, context.Context, Viewer, string) (Order, error)
		v      Viewer
		id     string
		raised []string
		check  func(t *testing.T, err error)
	}{
		{"cancel in the grace period", Ordering.Cancel, ann, "ann-submitted-1", []string{"ann-submitted-1:cancel"}, nil},
		{"cancel too late", Ordering.Cancel, ann, "ann-paid-0001", nil, func(t *testing.T, err error) {
			var tr *TransitionError
			require.ErrorAs(t, err, &tr)
			assert.Equal(t, TransitionError{Step: "cancel", Status: events.Paid}, *tr)
		}},
		{"cancel someone else's", Ordering.Cancel, bob, "ann-submitted-1", nil, func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrNotFound) }},
		{"ship a paid order", Ordering.Ship, admin, "ann-paid-0001", []string{"ann-paid-0001:ship"}, nil},
		{"ship an unpaid order", Ordering.Ship, admin, "ann-submitted-1", nil, func(t *testing.T, err error) {
			var tr *TransitionError
			require.ErrorAs(t, err, &tr)
			assert.Equal(t, "ship", tr.Step)
		}},
		{"a customer ships", Ordering.Ship, ann, "ann-paid-0001", nil, func(t *testing.T, err error) { assert.ErrorIs(t, err, ErrForbidden) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := &raised{}
			_, err := tc.step(Ordering{orders: orders, workflows: wf}, context.Background(), tc.v, tc.id)
			if tc.check == nil {
				require.NoError(t, err)
			} else {
				tc.check(t, err)
			}
			assert.ElementsMatch(t, tc.raised, []string(*wf), "events raised on the saga")
		})
	}

	t.Run("only admins list everyone's orders", func(t *testing.T) {
		o := Ordering{orders: orders, workflows: &raised{}}
		_, err := o.Recent(context.Background(), ann)
		assert.ErrorIs(t, err, ErrForbidden)
		list, err := o.Recent(context.Background(), admin)
		require.NoError(t, err)
		assert.Len(t, list, 2)
	})
}
