package main

import (
	"errors"
	"net/http"

	"github.com/bazaar-shop/bazaar/internal/httpapi"
)

// problem maps identity's domain errors to what the API and the forms
// answer; anything else stays an internal error (a 500 without detail).
// Its texts are written for people: the forms show them as they are.
func problem(err error) error {
	var invalid *InvalidError
	switch {
	case errors.As(err, &invalid):
		return &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "some fields are not valid", Fields: invalid.Fields}
	case errors.Is(err, ErrEmailTaken):
		return &httpapi.Error{Status: http.StatusConflict, Code: "email_taken", Detail: "an account with this email exists",
			Fields: map[string]string{"email": "has an account already: sign in instead"}}
	case errors.Is(err, ErrInvalidCredentials):
		return httpapi.Errorf(http.StatusUnauthorized, "invalid_credentials", "Wrong email or password.")
	case errors.Is(err, ErrTooManyAttempts):
		return httpapi.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many sign-in attempts. Wait a few minutes and try again.")
	case errors.Is(err, ErrInvalidToken):
		return httpapi.Errorf(http.StatusUnauthorized, "invalid_token", "sign in again")
	case errors.Is(err, ErrAdminOnly):
		return httpapi.Errorf(http.StatusForbidden, "admin_only", "only an admin may do this")
	case errors.Is(err, ErrUnknownUser):
		return httpapi.Errorf(http.StatusNotFound, "user_not_found", "no account has this id")
	case errors.Is(err, ErrUnknownKey):
		return httpapi.Errorf(http.StatusNotFound, "key_not_found", "no signing key has this id")
	case errors.Is(err, ErrNotReady):
		return httpapi.Errorf(http.StatusServiceUnavailable, "starting", "keys are not loaded yet")
	}
	return err
}
