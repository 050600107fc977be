package daprapp

import (
	"encoding/json"
	"io"
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

// DeadLetters subscribes handler-less to the dead-letter topics of subs and
// logs every message that lands there, so that poison messages show up in
// the service's log instead of vanishing.
func DeadLetters(subs []Subscription, route string) []Subscription {
	out := append([]Subscription(nil), subs...)
	for _, s := range subs {
		if s.DeadLetterTopic != "" {
			out = append(out, Subscription{PubsubName: s.PubsubName, Topic: s.DeadLetterTopic, Route: route})
		}
	}
	return out
}

// DeadLetterHandler logs a dead-lettered message at error level.
func DeadLetterHandler(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e Event
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		_ = json.Unmarshal(body, &e)
		data := string(e.Data)
		if len(data) > 512 {
			data = data[:512] + "…"
		}
		log.ErrorContext(r.Context(), "dead letter: a message could not be handled", "topic", e.Topic, "event_id", e.ID, "source", e.Source, "data", data)
		Answer(w, Success)
	})
}
