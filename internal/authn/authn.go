// Package authn verifies the tokens Bazaar's identity service issues: ES256
// JWTs whose public keys identity publishes as a JWKS document, with the
// sessions signed out before their tokens expired. Verification is local
// and cheap: keys and sign-outs are cached and fetched again every
// KeyRefresh, and at once for an unknown kid.
package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience of every Bazaar token.
const (
	Issuer   = "bazaar-identity"
	Audience = "bazaar"
)

// MaxLifetime is how long identity's tokens live; a token that claims to
// live longer was not issued by it and is refused.
const MaxLifetime = 15 * time.Minute

// Claims are what a token says about its holder.
type Claims struct {
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	jwt.RegisteredClaims
}

// IsAdmin reports whether the holder has the admin role.
func (c Claims) IsAdmin() bool {
	for _, r := range c.Roles {
		if r == "admin" {
			return true
		}
	}
	return false
}

// ErrInvalidToken is every verification failure; the reason is not shown
// to callers.
var ErrInvalidToken = errors.New("invalid token")

// JWK is one public key of a JWKS document (EC P-256 only).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS is a set of public keys.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes key as a JWK.
func PublicJWK(kid string, key *ecdsa.PublicKey) JWK {
	// Bytes is the uncompressed point: 0x04, then X and Y, 32 bytes each.
	point, err := key.Bytes()
	if err != nil || len(point) != 65 {
		panic(fmt.Sprintf("authn: key %s is not a P-256 public key", kid))
	}
	return JWK{Kty: "EC", Crv: "P-256", Kid: kid, Alg: "ES256", Use: "sig",
		X: base64.RawURLEncoding.EncodeToString(point[1:33]),
		Y: base64.RawURLEncoding.EncodeToString(point[33:])}
}

func (k JWK) public() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("key %s: only EC P-256 keys are accepted", k.Kid)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil {
		return nil, err
	}
	y, err := base64.RawURLEncoding.DecodeString(k.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("key %s: coordinates must be 32 bytes", k.Kid)
	}
	// Parsing checks that the point is on the curve.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.Kid, err)
	}
	return pub, nil
}

// Verifier checks tokens against keys from fetch (a JWKS document) and,
// when told where to find them (WithSignOuts), the sessions signed out.
type Verifier struct {
	fetch      func(context.Context) (JWKS, error)
	signOuts   func(context.Context) ([]string, error)
	minRefetch time.Duration
	now        func() time.Time

	mu        sync.RWMutex
	keys      map[string]*ecdsa.PublicKey
	ended     map[string]bool // session ids (jti) signed out
	lastFetch time.Time       // of the keys above; zero before the first fetch

	// verified remembers tokens that passed, until they expire, so that a
	// client's every request does not pay for an ECDSA verification. A
	// remembered token still needs its key in the current key set.
	cacheMu  sync.RWMutex
	verified map[string]verified
}

type verified struct {
	claims Claims
	kid    string
}

// cacheSize bounds the verified-token cache; when full it starts over.
const cacheSize = 10_000

// KeyRefresh is how old the key set may get before a verification fetches
// it again. A key identity revokes leaves its JWKS at once, so every
// verifier refuses its tokens, cached or not, within KeyRefresh (plus one
// fetch).
const KeyRefresh = 30 * time.Second

// NewVerifier returns a Verifier that gets keys from fetch: every
// KeyRefresh, and when a token names an unknown key (a rotation), then at
// most once per minRefetch.
func NewVerifier(fetch func(context.Context) (JWKS, error), minRefetch time.Duration) *Verifier {
	return &Verifier{fetch: fetch, minRefetch: minRefetch, now: time.Now, keys: map[string]*ecdsa.PublicKey{}, verified: map[string]verified{}}
}

// WithSignOuts makes v refuse the tokens of sessions that were signed out:
// fetch lists their ids (jti), and is called with every fetch of the keys.
func (v *Verifier) WithSignOuts(fetch func(context.Context) ([]string, error)) *Verifier {
	v.signOuts = fetch
	return v
}

// Verify parses and checks a token: signature (ES256 only, by kid), issuer,
// audience, expiry, a lifetime of at most MaxLifetime, and a session that
// was not signed out.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	v.cacheMu.RLock()
	hit, ok := v.verified[token]
	v.cacheMu.RUnlock()
	if ok && v.now().Before(hit.claims.ExpiresAt.Time) {
		if _, err := v.key(ctx, hit.kid); err == nil && !v.signedOut(hit.claims.ID) {
			return hit.claims, nil
		}
		v.cacheMu.Lock()
		delete(v.verified, token)
		v.cacheMu.Unlock()
		return Claims{}, ErrInvalidToken
	}
	var c Claims
	var kid string
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		return v.key(ctx, kid)
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(v.now))
	if err != nil || c.Subject == "" || c.ID == "" || c.IssuedAt == nil ||
		c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxLifetime || v.signedOut(c.ID) {
		return Claims{}, ErrInvalidToken
	}
	v.cacheMu.Lock()
	if len(v.verified) >= cacheSize {
		v.verified = map[string]verified{}
	}
	v.verified[token] = verified{claims: c, kid: kid}
	v.cacheMu.Unlock()
	return c, nil
}

// key returns the current public key for kid. It fetches the key set again
// when it is older than KeyRefresh, and when kid is unknown (a rotation) at
// most once per minRefetch, so that tokens with made-up kids cannot make us
// hammer identity. When a fetch fails the keys held so far stay in use.
func (v *Verifier) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	v.mu.RLock()
	k, ok, wait := v.held(kid)
	v.mu.RUnlock()
	if ok {
		return k, nil
	}
	if wait {
		return nil, errors.New("unknown kid")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok, wait := v.held(kid); ok {
		return k, nil // another caller fetched meanwhile
	} else if wait {
		return nil, errors.New("unknown kid")
	}
	v.lastFetch = v.now()
	set, err := v.fetch(ctx)
	if err != nil {
		if k, ok := v.keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, err := k.public(); err == nil {
			keys[k.Kid] = pub
		}
	}
	v.keys = keys
	if v.signOuts != nil {
		// On failure the sign-outs known so far stay.
		if ids, err := v.signOuts(ctx); err == nil {
			v.ended = map[string]bool{}
			for _, id := range ids {
				v.ended[id] = true
			}
		}
	}
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown kid")
}

// signedOut reports whether the session id is among the signed out, as
// of the last fetch.
func (v *Verifier) signedOut(id string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.ended[id]
}

// held looks kid up in a key set that is fresh enough: ok when it is there;
// wait when it is not but the set was fetched less than minRefetch ago.
// Callers hold v.mu.
func (v *Verifier) held(kid string) (k *ecdsa.PublicKey, ok, wait bool) {
	age := v.now().Sub(v.lastFetch)
	if v.lastFetch.IsZero() || age >= KeyRefresh {
		return nil, false, false
	}
	k, ok = v.keys[kid]
	return k, ok, !ok && age < v.minRefetch
}
