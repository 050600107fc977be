package daprapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Subscription is one programmatic subscription, as /dapr/subscribe lists it.
type Subscription struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Route           string            `json:"route"`
	DeadLetterTopic string            `json:"deadLetterTopic,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

// SubscribeHandler answers the sidecar's GET /dapr/subscribe.
func SubscribeHandler(subs []Subscription) http.Handler {
	body, _ := json.Marshal(subs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// Event is the CloudEvents envelope the sidecar delivers.
type Event struct {
	ID     string          `json:"id"`
	Source string          `json:"source"`
	Type   string          `json:"type"`
	Topic  string          `json:"topic"`
	Data   json.RawMessage `json:"data"`
}

// Delivery outcomes understood by the sidecar.
const (
	Success = "SUCCESS" // handled (or handled before): do not deliver again
	// Retry is a failure: the sidecar delivers again per the inbound retry
	// policy (components/common/resiliency.yaml), then moves the message to
	// the subscription's dead-letter topic. Answer it for transient faults
	// and for poison messages alike; Drop would lose a poison message
	// silently, since Dapr does not dead-letter dropped messages.
	Retry = "RETRY"
	Drop  = "DROP" // not for us: forget it
)

// Answer tells the sidecar what became of a delivery.
func Answer(w http.ResponseWriter, status string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
}

// DeadLetters adds to subs a subscription to each one's dead-letter topic,
// delivered to route. A dead letter that fails again is dead-lettered to its
// own topic: the sidecar publishes it there anew once its retries are spent,
// so it comes round again until it is handled. Without that, Redis Streams
// (components-contrib 1.17 and later) acknowledges a message whose delivery
// failed, and an event that outlasted both topics' retries (its app down for
// 20 s or more) was lost.
func DeadLetters(subs []Subscription, route string) []Subscription {
	out := append([]Subscription(nil), subs...)
	for _, s := range subs {
		if s.DeadLetterTopic != "" {
			out = append(out, Subscription{PubsubName: s.PubsubName, Topic: s.DeadLetterTopic, Route: route, DeadLetterTopic: s.DeadLetterTopic})
		}
	}
	return out
}

// ErrPoison marks an event that can never be handled (malformed, or missing
// what the contract requires). Wrap it to say what was wrong.
var ErrPoison = errors.New("poison event")

// EventHandler handles one delivered event. It must be idempotent: delivery
// is at least once. It returns an error wrapping ErrPoison for an event that
// can never be handled, any other error for a failure worth retrying.
type EventHandler func(ctx context.Context, e Event) error

// Consume serves a topic's deliveries with h. A failure, poison or not, is
// answered RETRY: the sidecar retries per the inbound resiliency policy, then
// moves the event to the subscription's dead-letter topic. (DROP would lose a
// poison event silently: Dapr does not dead-letter dropped events.)
func Consume(log *slog.Logger, h EventHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := decodeEvent(w, r)
		if err == nil {
			err = h(r.Context(), e)
		}
		if err != nil {
			log.WarnContext(r.Context(), "event not handled; the sidecar retries it", "topic", e.Topic, "event_id", e.ID, "err", err)
			Answer(w, Retry)
			return
		}
		Answer(w, Success)
	})
}

// ConsumeDeadLetters serves the dead-letter topics with the same handler, once
// more: an event that failed only because something it needs was down for
// longer than the retries is handled now, and one that fails again goes
// round its dead-letter topic again (DeadLetters). A poison event is logged, without its
// payload (it may carry personal data), and taken off the queue.
func ConsumeDeadLetters(log *slog.Logger, h EventHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := decodeEvent(w, r)
		if err == nil {
			err = h(r.Context(), e)
		}
		switch {
		case errors.Is(err, ErrPoison):
			log.ErrorContext(r.Context(), "dead letter: an event could not be handled and is dropped", "topic", e.Topic, "event_id", e.ID, "source", e.Source, "err", err)
			Answer(w, Success)
		case err != nil:
			log.WarnContext(r.Context(), "dead letter not handled yet; it comes round again", "topic", e.Topic, "event_id", e.ID, "err", err)
			Answer(w, Retry)
		default:
			log.InfoContext(r.Context(), "dead letter handled", "topic", e.Topic, "event_id", e.ID)
			Answer(w, Success)
		}
	})
}

func decodeEvent(w http.ResponseWriter, r *http.Request) (Event, error) {
	var e Event
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&e); err != nil {
		return e, fmt.Errorf("%w: not a CloudEvent: %v", ErrPoison, err)
	}
	return e, nil
}
