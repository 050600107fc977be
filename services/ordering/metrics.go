package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The saga's own metrics, beside every app's request metrics (telemetry).
var (
	stepDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "bazaar_saga_step_duration_seconds",
		Help:    "Time one attempt of a checkout saga step took, by step and outcome (ok or error).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"step", "outcome"})
	ordersByStatus = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bazaar_orders_total",
		Help: "Orders that reached a status (counted once per order, by the replica that stored it), with the reason for cancellations.",
	}, []string{"status", "reason"})
)
