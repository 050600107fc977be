package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/events"
)

// movingOrders is a shelf whose orders change while requests wait.
type movingOrders struct {
	mu    sync.Mutex
	shelf shelf
	reads int
}

func (m *movingOrders) Get(ctx context.Context, id string) (Order, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	return m.shelf.Get(ctx, id)
}

func (m *movingOrders) ForUser(ctx context.Context, user string) ([]Summary, error) {
	return nil, nil
}

func (m *movingOrders) Recent(ctx context.Context) ([]Summary, error) { return nil, nil }

func (m *movingOrders) set(id, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.shelf[id]
	o.Status = status
	m.shelf[id] = o
}

func (m *movingOrders) readCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

func TestAwaitAnswersWhenTheOrderMovesOn(t *testing.T) {
	const id = "ann-submitted-1"
	newOrdering := func() (Ordering, *movingOrders) {
		orders := &movingOrders{shelf: testOrders()}
		return Ordering{orders: orders, sagas: &raised{}, changes: newOrderChanges()}, orders
	}
	ctx := context.Background()

	t.Run("a status other than the one seen: at once", func(t *testing.T) {
		o, orders := newOrdering()
		order, found, err := o.Await(ctx, ann, id, events.Paid, MaxWait)
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, events.Submitted, order.Status)
		assert.Equal(t, 1, orders.readCount())
	})
	t.Run("written by this replica: woken, not read again every second", func(t *testing.T) {
		o, orders := newOrdering()
		go func() {
			time.Sleep(50 * time.Millisecond)
			orders.set(id, events.StockConfirmed)
			o.changes.written(id)
		}()
		order, _, err := o.Await(ctx, ann, id, events.Submitted, MaxWait)
		require.NoError(t, err)
		assert.Equal(t, events.StockConfirmed, order.Status)
		assert.Equal(t, 2, orders.readCount(), "read before waiting and once woken")
	})
	t.Run("written by another replica: seen on a re-read", func(t *testing.T) {
		o, orders := newOrdering()
		go func() {
			time.Sleep(50 * time.Millisecond)
			orders.set(id, events.Paid) // no o.changes.written: not here
		}()
		order, _, err := o.Await(ctx, ann, id, events.Submitted, MaxWait)
		require.NoError(t, err)
		assert.Equal(t, events.Paid, order.Status)
	})
	t.Run("nothing moves: the status as it is, after the wait", func(t *testing.T) {
		o, _ := newOrdering()
		order, found, err := o.Await(ctx, ann, id, events.Submitted, 100*time.Millisecond)
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, events.Submitted, order.Status)
		o.changes.mu.Lock()
		defer o.changes.mu.Unlock()
		assert.Empty(t, o.changes.waiting, "no watch is left behind")
	})
	t.Run("someone else's order waits like one not stored yet", func(t *testing.T) {
		o, _ := newOrdering()
		order, found, err := o.Await(ctx, bob, id, events.Submitted, 100*time.Millisecond)
		require.NoError(t, err)
		assert.False(t, found)
		assert.Equal(t, Order{ID: id, Status: events.Submitted}, order, "nothing of ann's order shows")
	})
}

func TestOrderChangesWakeEveryWaiter(t *testing.T) {
	c := newOrderChanges()
	first, doneFirst := c.watch("o1")
	second, doneSecond := c.watch("o1")
	other, doneOther := c.watch("o2")
	c.written("o1")
	for _, ch := range []<-chan struct{}{first, second} {
		select {
		case <-ch:
		default:
			t.Fatal("a waiter on o1 was not woken")
		}
	}
	select {
	case <-other:
		t.Fatal("o2 was not written")
	default:
	}
	doneFirst()
	doneSecond()
	doneOther()
	assert.Empty(t, c.waiting)
}
