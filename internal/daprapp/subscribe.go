package daprapp

import (
	"encoding/json"
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
	Retry   = "RETRY"   // a transient fault: deliver again later
	Drop    = "DROP"    // poison: never deliver again (goes to the dead-letter topic)
)

// Answer tells the sidecar what became of a delivery.
func Answer(w http.ResponseWriter, status string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
}
