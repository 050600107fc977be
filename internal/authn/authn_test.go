package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sign(t *testing.T, key *ecdsa.PrivateKey, kid string, mutate func(*Claims)) string {
	now := time.Now()
	c := Claims{Email: "ann@example.com", Roles: []string{"customer"}, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: Issuer, Audience: jwt.ClaimStrings{Audience}, Subject: "u1", ID: "session-1",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute))}}
	if mutate != nil {
		mutate(&c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestVerify(t *testing.T) {
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fetches := 0
	v := NewVerifier(func(context.Context) (JWKS, error) {
		fetches++
		return JWKS{Keys: []JWK{PublicJWK("k1", &good.PublicKey)}}, nil
	}, 10*time.Second)
	ctx := context.Background()

	c, err := v.Verify(ctx, sign(t, good, "k1", nil))
	require.NoError(t, err)
	assert.Equal(t, "u1", c.Subject)
	assert.False(t, c.IsAdmin())

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": Issuer, "aud": Audience, "sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	hs.Header["kid"] = "k1"
	hsToken, _ := hs.SignedString([]byte("guess"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": Issuer, "aud": Audience, "sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	none.Header["kid"] = "k1"
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	valid := sign(t, good, "k1", nil)
	tampered := valid[:strings.LastIndexByte(valid, '.')-2] + "xx" + valid[strings.LastIndexByte(valid, '.'):]

	for name, token := range map[string]string{
		"forged signature": sign(t, other, "k1", nil),
		"wrong kid":        sign(t, good, "k9", nil),
		"no kid":           sign(t, good, "", nil),
		"expired":          sign(t, good, "k1", func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)) }),
		"no expiry":        sign(t, good, "k1", func(c *Claims) { c.ExpiresAt = nil }),
		"wrong audience":   sign(t, good, "k1", func(c *Claims) { c.Audience = jwt.ClaimStrings{"elsewhere"} }),
		"wrong issuer":     sign(t, good, "k1", func(c *Claims) { c.Issuer = "someone" }),
		"no subject":       sign(t, good, "k1", func(c *Claims) { c.Subject = "" }),
		"no session id":    sign(t, good, "k1", func(c *Claims) { c.ID = "" }),
		"no issued-at":     sign(t, good, "k1", func(c *Claims) { c.IssuedAt = nil }),
		"lives too long": sign(t, good, "k1", func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(MaxLifetime + time.Second))
		}),
		"alg none":         noneToken,
		"alg HS256":        hsToken,
		"tampered payload": tampered,
		"garbage":          "not.a.token",
	} {
		_, err := v.Verify(ctx, token)
		assert.ErrorIs(t, err, ErrInvalidToken, name)
	}
	assert.Equal(t, 1, fetches, "unknown kids do not refetch more than every 10s")
}

func TestCachedTokensStillExpire(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	v := NewVerifier(func(context.Context) (JWKS, error) { return JWKS{Keys: []JWK{PublicJWK("k", &key.PublicKey)}}, nil }, time.Hour)
	v.now = func() time.Time { return now }
	token := sign(t, key, "k", nil)
	_, err := v.Verify(context.Background(), token)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), token)
	require.NoError(t, err, "from the cache")
	now = now.Add(16 * time.Minute)
	_, err = v.Verify(context.Background(), token)
	assert.ErrorIs(t, err, ErrInvalidToken, "an expired token fails even when cached")
}

func TestRotation(t *testing.T) {
	old, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := JWKS{Keys: []JWK{PublicJWK("old", &old.PublicKey)}}
	now := time.Now()
	v := NewVerifier(func(context.Context) (JWKS, error) { return set, nil }, 10*time.Second)
	v.now = func() time.Time { return now }
	oldToken := sign(t, old, "old", nil)
	_, err := v.Verify(context.Background(), oldToken)
	require.NoError(t, err)

	set = JWKS{Keys: []JWK{PublicJWK("next", &next.PublicKey), PublicJWK("old", &old.PublicKey)}}
	now = now.Add(11 * time.Second)
	_, err = v.Verify(context.Background(), sign(t, next, "next", nil))
	require.NoError(t, err, "a new kid triggers a refetch")
	_, err = v.Verify(context.Background(), oldToken)
	assert.NoError(t, err, "tokens signed with the old key stay valid until they expire")
}

func TestRevokedKeyIsRefusedWithinARefresh(t *testing.T) {
	leaked, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := JWKS{Keys: []JWK{PublicJWK("leaked", &leaked.PublicKey)}}
	fetches := 0
	now := time.Now()
	v := NewVerifier(func(context.Context) (JWKS, error) { fetches++; return set, nil }, 10*time.Second)
	v.now = func() time.Time { return now }
	cached := sign(t, leaked, "leaked", nil)
	_, err := v.Verify(context.Background(), cached)
	require.NoError(t, err)

	// Identity revokes the key: it leaves the key set.
	set = JWKS{Keys: []JWK{PublicJWK("next", &next.PublicKey)}}
	now = now.Add(KeyRefresh / 2)
	_, err = v.Verify(context.Background(), cached)
	require.NoError(t, err, "until the next refresh the verifier cannot know")
	require.Equal(t, 1, fetches, "a cache hit with fresh keys fetches nothing")

	now = now.Add(KeyRefresh/2 + time.Second)
	_, err = v.Verify(context.Background(), cached)
	assert.ErrorIs(t, err, ErrInvalidToken, "a cached token of a revoked key is refused")
	_, err = v.Verify(context.Background(), sign(t, leaked, "leaked", nil))
	assert.ErrorIs(t, err, ErrInvalidToken, "so is a new one it signs")
	_, err = v.Verify(context.Background(), sign(t, next, "next", nil))
	assert.NoError(t, err)
	assert.Equal(t, 2, fetches, "one fetch per refresh, not per token")

	// Identity unreachable: the keys held so far stay in use.
	now = now.Add(KeyRefresh + time.Second)
	v.fetch = func(context.Context) (JWKS, error) { return JWKS{}, errors.New("identity is down") }
	_, err = v.Verify(context.Background(), sign(t, next, "next", nil))
	assert.NoError(t, err)
}

func TestSignedOutSessionIsRefusedWithinARefresh(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var ended []string
	fetches := 0
	now := time.Now()
	v := NewVerifier(func(context.Context) (JWKS, error) { return JWKS{Keys: []JWK{PublicJWK("k", &key.PublicKey)}}, nil }, time.Hour).
		WithSignOuts(func(context.Context) ([]string, error) { fetches++; return ended, nil })
	v.now = func() time.Time { return now }
	ann := sign(t, key, "k", func(c *Claims) { c.ID = "ann-session" })
	bob := sign(t, key, "k", func(c *Claims) { c.ID = "bob-session" })
	for _, token := range []string{ann, bob} {
		_, err := v.Verify(context.Background(), token)
		require.NoError(t, err)
	}

	// Ann signs out.
	ended = []string{"ann-session"}
	now = now.Add(KeyRefresh + time.Second)
	_, err := v.Verify(context.Background(), ann)
	assert.ErrorIs(t, err, ErrInvalidToken, "a cached token of a signed-out session is refused")
	_, err = v.Verify(context.Background(), bob)
	assert.NoError(t, err, "other sessions go on")
	assert.Equal(t, 2, fetches, "sign-outs are fetched with the keys")

	// Identity unreachable: the sign-outs known so far stay.
	v.signOuts = func(context.Context) ([]string, error) { return nil, errors.New("identity is down") }
	now = now.Add(KeyRefresh + time.Second)
	v.cacheMu.Lock()
	v.verified = map[string]verified{}
	v.cacheMu.Unlock()
	_, err = v.Verify(context.Background(), ann)
	assert.ErrorIs(t, err, ErrInvalidToken)
}
