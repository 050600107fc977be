package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	dapr "github.com/dapr/go-sdk/client"
)

// userStore implements Users over Dapr state, by lower-cased email.
type userStore struct {
	dapr  stateAPI
	store string
}

func userKey(email string) string { return "user:" + strings.ToLower(email) }

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
	return nil
}
