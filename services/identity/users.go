package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	dapr "github.com/dapr/go-sdk/client"
	"golang.org/x/crypto/bcrypt"
)

// User is a registered account.
type User struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	Hash  []byte   `json:"hash"`
}

var errEmailTaken = errors.New("email taken")

// userStore keeps accounts by (lower-cased) email.
type userStore struct {
	dapr  stateAPI
	store string
}

func userKey(email string) string { return "user:" + strings.ToLower(email) }

func (s *userStore) get(ctx context.Context, email string) (User, bool, error) {
	item, err := s.dapr.GetState(ctx, s.store, userKey(email), nil)
	if err != nil || len(item.Value) == 0 {
		return User{}, false, err
	}
	var u User
	return u, true, json.Unmarshal(item.Value, &u)
}

// create adds an account; the email must be new.
func (s *userStore) create(ctx context.Context, email, name, password string, roles []string) (User, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return User{}, err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	u := User{ID: hex.EncodeToString(id), Email: strings.ToLower(email), Name: name, Roles: roles, Hash: hash}
	data, _ := json.Marshal(u)
	err = s.dapr.SaveStateWithETag(ctx, s.store, userKey(email), data, "", nil, dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
	if _, exists, gerr := s.get(ctx, email); err != nil && gerr == nil && exists {
		return User{}, errEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("save user: %w", err)
	}
	return u, nil
}

// dummyHash keeps a failed sign-in for an unknown email as slow as one with
// a wrong password, so timing does not tell which accounts exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), bcrypt.DefaultCost)

// authenticate returns the account if password matches.
func (s *userStore) authenticate(ctx context.Context, email, password string) (User, bool, error) {
	u, ok, err := s.get(ctx, email)
	if err != nil {
		return User{}, false, err
	}
	hash := dummyHash
	if ok {
		hash = u.Hash
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	return u, ok && match, nil
}

// secrets is the part of the Dapr client that reads the secret store.
type secrets interface {
	GetSecret(ctx context.Context, store, key string, meta map[string]string) (map[string]string, error)
}

// bootstrapAdmin creates the first admin from the secret store, once.
func bootstrapAdmin(ctx context.Context, sec secrets, users *userStore) error {
	email, err := sec.GetSecret(ctx, "secrets", "admin-email", nil)
	if err != nil {
		return fmt.Errorf("read admin-email from the secret store: %w", err)
	}
	password, err := sec.GetSecret(ctx, "secrets", "admin-password", nil)
	if err != nil {
		return fmt.Errorf("read admin-password from the secret store: %w", err)
	}
	if _, exists, err := users.get(ctx, email["admin-email"]); err != nil || exists {
		return err
	}
	_, err = users.create(ctx, email["admin-email"], "Admin", password["admin-password"], []string{"admin", "customer"})
	if errors.Is(err, errEmailTaken) {
		return nil
	}
	return err
}
