package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/events"
)

// flakySidecar keeps state in memory and fails the first publishes, as a
// broker outage or a crash between the two writes would.
type flakySidecar struct {
	kv           map[string][]byte
	etag         map[string]int
	failPublish  int
	published    []events.StatusChange
	publishCalls int
}

func (f *flakySidecar) GetState(_ context.Context, _, key string, _ map[string]string) (*dapr.StateItem, error) {
	item := &dapr.StateItem{Key: key, Value: f.kv[key]}
	if v, ok := f.etag[key]; ok {
		item.Etag = strconv.Itoa(v)
	}
	return item, nil
}

func (f *flakySidecar) GetBulkState(context.Context, string, []string, map[string]string, int32) ([]*dapr.BulkStateItem, error) {
	return nil, errors.New("not used")
}

func (f *flakySidecar) SaveStateWithETag(_ context.Context, _, key string, data []byte, etag string, _ map[string]string, _ ...dapr.StateOption) error {
	if cur, ok := f.etag[key]; ok && etag != strconv.Itoa(cur) || !ok && etag != "" {
		return errors.New("etag mismatch")
	}
	f.kv[key] = data
	f.etag[key]++
	return nil
}

func (f *flakySidecar) PublishEvent(_ context.Context, _, _ string, data any, _ ...dapr.PublishEventOption) error {
	f.publishCalls++
	if f.failPublish > 0 {
		f.failPublish--
		return errors.New("broker unavailable")
	}
	f.published = append(f.published, data.(events.StatusChange))
	return nil
}

func (f *flakySidecar) InvokeMethodWithContent(context.Context, string, string, string, *dapr.DataContent) ([]byte, error) {
	return nil, errors.New("not used")
}

// TestRecordStatusStoresOncePublishesAtLeastOnce shows the property the saga
// relies on instead of an outbox: a status change that is stored is also
// published, even when publishing fails at first, and running the step
// again (as the workflow engine does after a crash) stores nothing twice.
func TestRecordStatusStoresOncePublishesAtLeastOnce(t *testing.T) {
	side := &flakySidecar{kv: map[string][]byte{}, etag: map[string]int{}, failPublish: 2}
	s := &saga{orders: &orderStore{dapr: side, store: stateStore}, dapr: side, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o := Order{ID: "o1", UserID: "ann", Status: events.Submitted, History: []Step{{Status: events.Submitted, At: "t0"}}}
	require.NoError(t, s.orders.save(context.Background(), o, ""))

	change := statusInput{OrderID: "o1", Status: events.AwaitingStock, At: "t1"}
	require.NoError(t, s.record(context.Background(), change))
	require.NoError(t, s.record(context.Background(), change), "the engine re-runs a step after a crash")

	got, _, err := s.orders.Get(context.Background(), "o1")
	require.NoError(t, err)
	assert.Equal(t, []Step{{Status: events.Submitted, At: "t0"}, {Status: events.AwaitingStock, At: "t1"}}, got.History)
	assert.Equal(t, events.AwaitingStock, got.Status)
	assert.Equal(t, 4, side.publishCalls, "two failures, then one publish per run")
	require.Len(t, side.published, 2)
	assert.Equal(t, side.published[0].Key(), side.published[1].Key(), "a repeat carries the same key for consumers to drop")
	b, _ := json.Marshal(side.published[0])
	assert.Contains(t, string(b), `"status":"awaiting_stock"`)
}
