package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
BenchmarkPages/defaults-2   	       1	51122789765 ns/op	         6.459 anon-at-200/s-p99-ms	      1546 anon-pages/s	         1.349 composition-overhead-x	       535.2 signed-in-pages/s
BenchmarkCheckout/embedded/saturated-2         	       1	27637925963 ns/op	       930.0 p50-ms	      1095 p99-ms	        25.34 paid/s	         0 repeated-paid-events
BenchmarkCheckoutUnderRepeatedCrashes/servers-2          	       1	61223883979 ns/op	         7.000 kills	         2.031 max-s	         0 not-paid	         1.018 p50-s	         2.025 p99-s	       300.0 paid
BenchmarkCheckout/servers/saturated logs a line that is not a result
ok  	github.com/bazaar-shop/bazaar/services/ordering	140.388s
`

func TestParse(t *testing.T) {
	figures, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	assert.Equal(t, 1546.0, figures["BenchmarkPages/defaults"]["anon-pages/s"])
	assert.Equal(t, 25.34, figures["BenchmarkCheckout/embedded/saturated"]["paid/s"])
	assert.Equal(t, 2.025, figures["BenchmarkCheckoutUnderRepeatedCrashes/servers"]["p99-s"])
	assert.NotContains(t, figures, "BenchmarkCheckout/servers/saturated", "a log line is not a result")
}

func TestSummarize(t *testing.T) {
	figures, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	var out bytes.Buffer
	summarize(&out, figures)
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		for _, g := range goals {
			if strings.HasPrefix(l, g.what+" ") {
				lines[g.what] = l
			}
		}
	}
	assert.Contains(t, lines["anonymous home, 32 connections, make run's defaults"], "NOT MET", "1546 < 2000")
	assert.Contains(t, lines["anonymous home at 200/s, p99"], "met", "6.459 ≤ 25")
	assert.NotContains(t, lines["anonymous home at 200/s, p99"], "NOT MET")
	assert.Contains(t, lines["composition overhead (page / slowest fragment)"], "NOT MET", "1.349 > 1.3")
	assert.Contains(t, lines["orders not paid under those kills, servers"], "met")
	assert.NotContains(t, lines["orders not paid under those kills, servers"], "NOT MET")
	assert.Contains(t, lines["checkout saturated, servers"], "not measured")
	assert.Contains(t, out.String(), "3 of 7 measured goals met")
}
