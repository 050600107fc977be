package main

import (
	"errors"
	"net/http"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// problem maps ordering's domain errors to what the API and the fragments
// answer; anything else stays an internal error (a 500 without detail).
func problem(err error) error {
	var transition *TransitionError
	switch {
	case errors.Is(err, ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "order_not_found", "There is no such order.")
	case errors.Is(err, ErrForbidden):
		return httpapi.Errorf(http.StatusForbidden, "admin_only", "only an admin may do this")
	case errors.As(err, &transition) && transition.Step == cancelEvent:
		return httpapi.Errorf(http.StatusConflict, "too_late_to_cancel", "the order is %s; it can be cancelled only while submitted", transition.Status)
	case errors.As(err, &transition):
		return httpapi.Errorf(http.StatusConflict, "not_paid", "the order is %s; only paid orders ship", transition.Status)
	}
	return err
}
