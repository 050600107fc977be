package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/events"
	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// The API's codes and statuses are in api/openapi.yaml; the fragments answer
// the same.
func TestProblem(t *testing.T) {
	other := errors.New("state store down")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"not found", ErrNotFound, 404, "order_not_found"},
		{"wrapped not found", errors.Join(errors.New("read"), ErrNotFound), 404, "order_not_found"},
		{"not an admin", ErrForbidden, 403, "admin_only"},
		{"too late to cancel", &TransitionError{Step: cancelEvent, Status: events.Paid}, 409, "too_late_to_cancel"},
		{"not paid", &TransitionError{Step: shipEvent, Status: events.Submitted}, 409, "not_paid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p *httpapi.Error
			require.ErrorAs(t, problem(tc.err), &p)
			assert.Equal(t, tc.status, p.Status)
			assert.Equal(t, tc.code, p.Code)
		})
	}
	t.Run("anything else stays as it is: a 500 without detail", func(t *testing.T) {
		assert.Same(t, other, problem(other))
		assert.NoError(t, problem(nil))
	})
}
