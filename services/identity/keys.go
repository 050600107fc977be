package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/golang-jwt/jwt/v5"

	"github.com/bazaar-shop/bazaar/internal/authn"
	"github.com/bazaar-shop/bazaar/internal/daprapp"
)

const (
	stateStore = "identity-store"
	keysKey    = "signing-keys"
	tokenTTL   = authn.MaxLifetime
)

// storedKey is a signing key as kept in identity's own state store.
type storedKey struct {
	Kid     string    `json:"kid"`
	Created time.Time `json:"created"`
	Retired time.Time `json:"retired,omitempty"` // no longer signs; verifies until Retired + token TTL
	DER     []byte    `json:"der"`
}

// keyRing signs with its newest key and publishes every key that may still
// have valid tokens, so that a rotation signs nobody out.
type keyRing struct {
	dapr  stateAPI
	store string
	ttl   time.Duration

	mu   sync.RWMutex
	keys []storedKey
	priv map[string]*ecdsa.PrivateKey
}

type stateAPI interface {
	GetState(ctx context.Context, store, key string, meta map[string]string) (*dapr.StateItem, error)
	SaveStateWithETag(ctx context.Context, store, key string, data []byte, etag string, meta map[string]string, so ...dapr.StateOption) error
}

// load reads the ring, creating the first key on first start.
func (r *keyRing) load(ctx context.Context) error {
	item, err := r.dapr.GetState(ctx, r.store, keysKey, nil)
	if err != nil {
		return err
	}
	var keys []storedKey
	if len(item.Value) > 0 {
		if err := json.Unmarshal(item.Value, &keys); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return r.Rotate(ctx)
	}
	return r.use(keys)
}

// Rotate implements Keys: it adds a new signing key; the previous one only
// verifies from now on.
func (r *keyRing) Rotate(ctx context.Context) error {
	return r.change(ctx, func(keys []storedKey) ([]storedKey, error) {
		now := time.Now().UTC()
		var kept []storedKey
		for _, k := range keys {
			if k.Retired.IsZero() {
				k.Retired = now
			}
			if now.Sub(k.Retired) < r.ttl+time.Minute { // tokens it signed may still be valid
				kept = append(kept, k)
			}
		}
		next, err := newKey()
		return append([]storedKey{next}, kept...), err
	})
}

// change rewrites the stored ring with edit under its ETag, reading again
// when another replica wrote in between, and then uses the result.
func (r *keyRing) change(ctx context.Context, edit func([]storedKey) ([]storedKey, error)) error {
	for range 10 {
		item, err := r.dapr.GetState(ctx, r.store, keysKey, nil)
		if err != nil {
			return err
		}
		var keys []storedKey
		if len(item.Value) > 0 {
			if err := json.Unmarshal(item.Value, &keys); err != nil {
				return err
			}
		}
		if keys, err = edit(keys); err != nil {
			return err
		}
		data, _ := json.Marshal(keys)
		err = r.dapr.SaveStateWithETag(ctx, r.store, keysKey, data, item.Etag, nil,
			dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite), dapr.WithConsistency(dapr.StateConsistencyStrong))
		if daprapp.IsETagMismatch(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("save signing keys: %w", err)
		}
		return r.use(keys)
	}
	return errors.New("signing keys: too much contention")
}

// List implements Keys: the ring, the signing key first.
func (r *keyRing) List() []KeyInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]KeyInfo, 0, len(r.keys))
	for i, k := range r.keys {
		out = append(out, KeyInfo{Kid: k.Kid, Created: k.Created, Signing: i == 0})
	}
	return out
}

// ErrUnknownKey means the ring holds no key with that id.
var ErrUnknownKey = errors.New("no such key")

// Revoke implements Keys: the key leaves the ring at once, so it neither
// signs nor verifies (every verifier refetches the key set within
// authn.KeyRefresh). Revoking the key that signs makes a new one first.
func (r *keyRing) Revoke(ctx context.Context, kid string) error {
	return r.change(ctx, func(keys []storedKey) ([]storedKey, error) {
		i := slices.IndexFunc(keys, func(k storedKey) bool { return k.Kid == kid })
		if i < 0 {
			return nil, ErrUnknownKey
		}
		if i == 0 {
			next, err := newKey()
			if err != nil {
				return nil, err
			}
			keys = append([]storedKey{next}, keys...)
			i++
		}
		return slices.Delete(keys, i, i+1), nil
	})
}

// refresh reloads the ring from the store, so that a replica learns of a
// rotation or revocation made by another.
func (r *keyRing) refresh(ctx context.Context) error {
	item, err := r.dapr.GetState(ctx, r.store, keysKey, nil)
	if err != nil {
		return err
	}
	var keys []storedKey
	if err := json.Unmarshal(item.Value, &keys); err != nil || len(keys) == 0 {
		return err
	}
	return r.use(keys)
}

// newKey makes a signing key.
func newKey() (storedKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return storedKey{}, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return storedKey{}, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return storedKey{Kid: hex.EncodeToString(id), Created: time.Now().UTC(), DER: der}, nil
}

func (r *keyRing) use(keys []storedKey) error {
	priv := map[string]*ecdsa.PrivateKey{}
	for _, k := range keys {
		p, err := x509.ParseECPrivateKey(k.DER)
		if err != nil {
			return fmt.Errorf("key %s: %w", k.Kid, err)
		}
		priv[k.Kid] = p
	}
	r.mu.Lock()
	r.keys, r.priv = keys, priv
	r.mu.Unlock()
	return nil
}

// JWKS implements Keys with the public half of every key in the ring.
func (r *keyRing) JWKS(context.Context) (authn.JWKS, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return authn.JWKS{}, ErrNotReady
	}
	set := authn.JWKS{Keys: []authn.JWK{}}
	for _, k := range r.keys {
		set.Keys = append(set.Keys, authn.PublicJWK(k.Kid, &r.priv[k.Kid].PublicKey))
	}
	return set, nil
}

// Sign implements Keys with the newest key.
func (r *keyRing) Sign(u User) (string, time.Time, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return "", time.Time{}, ErrNotReady
	}
	now := time.Now()
	exp := now.Add(r.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, authn.Claims{Email: u.Email, Name: u.Name, Roles: u.Roles,
		RegisteredClaims: jwt.RegisteredClaims{Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: u.ID,
			ID: randomID(), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)}})
	tok.Header["kid"] = r.keys[0].Kid
	s, err := tok.SignedString(r.priv[r.keys[0].Kid])
	return s, exp, err
}

// randomID is a token's session id (jti): 128 random bits.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
