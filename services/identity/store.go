package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

// userStore implements Users over Dapr state, by lower-cased email.
type userStore struct {
	dapr  stateAPI
	store string
}

func userKey(email string) string { return "user:" + strings.ToLower(email) }

// idKey finds an account's email by its id.
func idKey(id string) string { return "user-id:" + id }

// ByID implements Users.
func (s *userStore) ByID(ctx context.Context, id string) (User, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, idKey(id), nil)
	if err != nil || len(item.Value) == 0 {
		return User{}, false, err
	}
	u, ok, err := s.Get(ctx, string(item.Value))
	if ok && u.ID != id {
		return User{}, false, nil // an index entry left by an account that is gone
	}
	return u, ok, err
}

// Get implements Users.
func (s *userStore) Get(ctx context.Context, email string) (User, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, userKey(email), nil)
	if err != nil || len(item.Value) == 0 {
		return User{}, false, err
	}
	var u User
	return u, true, json.Unmarshal(item.Value, &u)
}

// Create implements Users with a first-write-wins save.
func (s *userStore) Create(ctx context.Context, u User) error {
	data, _ := json.Marshal(u)
	err := s.dapr.SaveStateWithETag(ctx, s.store, userKey(u.Email), data, "", nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
	if _, exists, gerr := s.Get(ctx, u.Email); err != nil && gerr == nil && exists {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("save user: %w", err)
	}
	// The id index is written after the account: a crash in between leaves
	// an account that signs in but that notifications cannot find.
	if err := s.dapr.SaveStateWithETag(ctx, s.store, idKey(u.ID), []byte(strings.ToLower(u.Email)), "", nil); err != nil {
		return fmt.Errorf("save user index: %w", err)
	}
	return nil
}

// signedOutKey holds every session signed out whose token has not expired
// yet: one record, so that verifiers can fetch the whole list at once (like
// a certificate revocation list). Each id stays until its token expires.
const signedOutKey = "sessions:signed-out"

// maxSignedOut bounds the list; past it the sessions closest to expiring
// would have to go, which signing out never needs in a shop of this size.
const maxSignedOut = 100_000

// sessionStore implements Sessions over Dapr state.
type sessionStore struct {
	dapr  stateAPI
	store string
	now   func() time.Time
}

// End implements Sessions: it adds id to the list and drops the ids whose
// tokens have expired, retrying when another write came in between.
func (s *sessionStore) End(ctx context.Context, id string, expires time.Time) error {
	for range 10 {
		ended, etag, err := s.read(ctx)
		if err != nil {
			return err
		}
		if _, ok := ended[id]; ok {
			return nil
		}
		if len(ended) >= maxSignedOut {
			return errors.New("too many sessions signed out")
		}
		ended[id] = expires.Unix()
		data, _ := json.Marshal(ended)
		err = s.dapr.SaveStateWithETag(ctx, s.store, signedOutKey, data, etag, nil,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
		if daprapp.IsETagMismatch(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save signed-out sessions: %w", err)
		}
		return nil
	}
	return errors.New("save signed-out sessions: too much contention")
}

// Ended implements Sessions.
func (s *sessionStore) Ended(ctx context.Context) ([]string, error) {
	ended, _, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ended))
	for id := range ended {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// read returns the sessions signed out whose tokens are still valid (by
// id, with their expiry) and the record's ETag.
func (s *sessionStore) read(ctx context.Context) (map[string]int64, string, error) {
	item, err := s.dapr.GetState(ctx, s.store, signedOutKey, nil)
	if err != nil {
		return nil, "", fmt.Errorf("read signed-out sessions: %w", err)
	}
	ended := map[string]int64{}
	if len(item.Value) > 0 {
		if err := json.Unmarshal(item.Value, &ended); err != nil {
			return nil, "", fmt.Errorf("read signed-out sessions: %w", err)
		}
	}
	now := s.now().Unix()
	for id, exp := range ended {
		if exp < now {
			delete(ended, id)
		}
	}
	return ended, item.Etag, nil
}
