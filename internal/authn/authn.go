// Package authn verifies the tokens Bazaar's identity service issues: ES256
// JWTs whose public keys identity publishes as a JWKS document. Verification
// is local and cheap; keys are cached and refetched only for an unknown kid.
package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
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

// Verifier checks tokens against keys from fetch (a JWKS document).
type Verifier struct {
	fetch      func(context.Context) (JWKS, error)
	minRefetch time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      map[string]*ecdsa.PublicKey
	lastFetch time.Time

	// verified remembers tokens that passed, until they expire, so that a
	// client's every request does not pay for an ECDSA verification.
	cacheMu  sync.RWMutex
	verified map[string]Claims
}

// cacheSize bounds the verified-token cache; when full it starts over.
const cacheSize = 10_000

// NewVerifier returns a Verifier that gets keys from fetch, at most once per
// minRefetch when a token names an unknown key.
func NewVerifier(fetch func(context.Context) (JWKS, error), minRefetch time.Duration) *Verifier {
	return &Verifier{fetch: fetch, minRefetch: minRefetch, now: time.Now, keys: map[string]*ecdsa.PublicKey{}, verified: map[string]Claims{}}
}

// Verify parses and checks a token: signature (ES256 only, by kid), issuer,
// audience and expiry.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	v.cacheMu.RLock()
	c, ok := v.verified[token]
	v.cacheMu.RUnlock()
	if ok && v.now().Before(c.ExpiresAt.Time) {
		return c, nil
	}
	c = Claims{}
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		return v.key(ctx, kid)
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(v.now))
	if err != nil || c.Subject == "" {
		return Claims{}, ErrInvalidToken
	}
	v.cacheMu.Lock()
	if len(v.verified) >= cacheSize {
		v.verified = map[string]Claims{}
	}
	v.verified[token] = c
	v.cacheMu.Unlock()
	return c, nil
}

// key returns the public key for kid, refetching the key set when kid is
// unknown (a rotation), at most once per minRefetch so that tokens with
// made-up kids cannot make us hammer identity.
func (v *Verifier) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	if !v.lastFetch.IsZero() && v.now().Sub(v.lastFetch) < v.minRefetch {
		return nil, errors.New("unknown kid")
	}
	v.lastFetch = v.now()
	set, err := v.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, err := k.public(); err == nil {
			keys[k.Kid] = pub
		}
	}
	v.keys = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, errors.New("unknown kid")
}

// MarshalJWKS encodes a key set.
func MarshalJWKS(set JWKS) []byte {
	b, _ := json.Marshal(set)
	return b
}
