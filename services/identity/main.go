// Command identity is Bazaar's identity provider: it registers users, signs
// them in with short-lived ES256 tokens and publishes its public keys as a
// JWKS document, so that the gateway and every service verify tokens
// themselves. The first admin comes from the Dapr secret store.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
	"github.com/bazaar-shop/bazaar/internal/limit"
)

func main() {
	err := daprapp.Run(context.Background(), "identity", os.Getenv, os.Stdout, func(ctx context.Context, d daprapp.Deps) (http.Handler, error) {
		ring := &keyRing{dapr: d.Client, store: stateStore, ttl: tokenTTL}
		sessions := &sessionStore{dapr: d.Client, store: stateStore, now: time.Now}
		// The keys are local here: look again at once when a kid is new.
		verifier := authn.NewVerifier(ring.JWKS, 0).WithSignOuts(sessions.Ended)
		accounts, err := NewAccounts(&userStore{dapr: d.Client, store: stateStore}, ring, sessions, verifier,
			bcryptPasswords{cost: bcrypt.DefaultCost}, newLimiter(limit.DaprCounts{Client: d.Client, Store: stateStore}))
		if err != nil {
			return nil, err
		}
		// Keys and the first admin need the sidecar, which waits for our port.
		go func() {
			if err := daprapp.WaitForSidecar(ctx, d.Config); err != nil {
				return
			}
			for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(wait*2, 5*time.Second) {
				err := ring.load(ctx)
				if err == nil {
					err = bootstrapAdmin(ctx, d.Client, accounts)
				}
				if err == nil {
					d.Log.InfoContext(ctx, "identity ready")
					go refreshKeys(ctx, d.Log, ring)
					return
				}
				d.Log.WarnContext(ctx, "start-up failed; retrying", "err", err, "in", wait)
				time.Sleep(wait)
			}
		}()
		return NewServer(d.Log, d.Config, accounts), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "identity:", err)
		os.Exit(1)
	}
}

// secrets is the part of the Dapr client that reads the secret store.
type secrets interface {
	GetSecret(ctx context.Context, store, key string, meta map[string]string) (map[string]string, error)
}

// bootstrapAdmin creates the first admin from the secret store, once.
func bootstrapAdmin(ctx context.Context, sec secrets, accounts *Accounts) error {
	email, err := sec.GetSecret(ctx, "secrets", "admin-email", nil)
	if err != nil {
		return fmt.Errorf("read admin-email from the secret store: %w", err)
	}
	password, err := sec.GetSecret(ctx, "secrets", "admin-password", nil)
	if err != nil {
		return fmt.Errorf("read admin-password from the secret store: %w", err)
	}
	return accounts.EnsureAdmin(ctx, email["admin-email"], password["admin-password"])
}

// refreshKeys reloads the key ring every few seconds, so that a replica
// signs with, and publishes, what another replica rotated or revoked.
func refreshKeys(ctx context.Context, log *slog.Logger, ring *keyRing) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
		if err := ring.refresh(ctx); err != nil {
			log.WarnContext(ctx, "reloading the signing keys failed", "err", err)
		}
	}
}
