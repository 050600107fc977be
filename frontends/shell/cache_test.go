package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFragmentCacheStaysWithinItsBudget(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newFragmentCache(100, 8000)
	c.now = func() time.Time { return now }
	page := strings.Repeat("x", 900)

	c.put("big", strings.Repeat("x", 1001), nil, time.Minute, 0)
	_, ok, _ := c.get("big")
	assert.False(t, ok, "an answer over an eighth of the budget is not kept")

	for i := range 8 {
		c.put(string(rune('a'+i)), page, nil, time.Minute, 0)
		assert.LessOrEqual(t, c.bytes, c.maxBytes)
	}
	assert.Len(t, c.entries, 8)
	c.put("a", page, []string{"/static/a.css"}, time.Minute, 0)
	assert.Len(t, c.entries, 8, "replacing an entry counts its size once")

	// A ninth would overflow: what is past its use goes first, the rest stays.
	c.put("h", page, nil, time.Hour, 0) // replaces one of the minute-long ones
	now = now.Add(2 * time.Minute)
	c.put("next", page, nil, time.Hour, 0)
	assert.Len(t, c.entries, 2)
	_, ok, _ = c.get("h")
	assert.True(t, ok, "an entry still fresh survives the clean-up")
	for range 20 {
		c.put(time.Now().String(), page, nil, time.Hour, 0)
		assert.LessOrEqual(t, c.bytes, c.maxBytes)
		assert.LessOrEqual(t, len(c.entries), c.max)
	}
}
