package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bazaar-shop/bazaar/internal/compose"
	"github.com/bazaar-shop/bazaar/internal/harness"
	"github.com/bazaar-shop/bazaar/internal/runner"
)

// TestSecretsAtRest reads what the stores really hold after a card was
// tokenized and identity made its signing key: no card number and no part
// of a private key may be there in clear, in either profile, and nothing in
// the data folder may be readable by another user.
func TestSecretsAtRest(t *testing.T) {
	const number = "4242424242424242"
	for _, profile := range []string{"embedded", "servers"} {
		t.Run(profile, func(t *testing.T) {
			// A probe stands in for basket, the one app that may tokenize.
			sys := harness.Start(t, harness.Options{Profile: profile, Services: []string{"payment", "identity"},
				Extra: []compose.Service{harness.Probe("basket")}})
			status, _, body := harness.Invoke(t, sys.App("basket"), "payment", http.MethodPost, "tokenize", nil,
				`{"orderId":"at-rest-1","number":"`+number+`","expiry":"12/39","cvc":"123"}`)
			require.Equal(t, http.StatusOK, status, "%s", body)
			var tok struct{ Token string }
			require.NoError(t, json.Unmarshal(body, &tok))
			require.NotEmpty(t, tok.Token)
			status, _, body = harness.Invoke(t, sys.App("basket"), "identity", http.MethodGet, "jwks.json", nil, "")
			require.Equal(t, http.StatusOK, status, "%s", body)
			var jwks struct{ Keys []struct{ Kid string } }
			require.NoError(t, json.Unmarshal(body, &jwks))
			require.NotEmpty(t, jwks.Keys)
			kid := jwks.Keys[0].Kid

			// Clear text would show the number, the stored key's JSON or its
			// id; the state keys themselves (not secret) must be there, or we
			// looked in the wrong place.
			// Stores keep a value that is not JSON base64-encoded: look for that too.
			secret := [][]byte{[]byte(number), []byte(base64.StdEncoding.EncodeToString([]byte(number))), []byte(`"der"`), []byte(kid)}
			payment, identity := storedBytes(t, sys, "payment"), storedBytes(t, sys, "identity")
			require.True(t, bytes.Contains(payment, []byte("card:"+tok.Token)), "payment's store holds the card")
			require.True(t, bytes.Contains(identity, []byte("signing-keys")), "identity's store holds its keys")
			for _, s := range secret {
				assert.False(t, bytes.Contains(payment, s), "payment's store holds %q in clear", s)
				assert.False(t, bytes.Contains(identity, s), "identity's store holds %q in clear", s)
			}

			err := filepath.WalkDir(sys.DataDir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.Type()&fs.ModeSymlink != 0 {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				assert.Zero(t, info.Mode().Perm()&0o077, "%s is %s: readable by others", p, info.Mode().Perm())
				return nil
			})
			require.NoError(t, err)
		})
	}
}

// storedBytes is everything an app's store holds, raw: its SQLite files
// (with the write-ahead log) in the embedded profile, every field of every
// key of its Redis database in the servers profile.
func storedBytes(t *testing.T, sys *runner.System, app string) []byte {
	t.Helper()
	var out []byte
	if sys.Profile == "embedded" {
		files, err := filepath.Glob(filepath.Join(sys.DataDir, "state", app+".db*"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			out = append(out, b...)
		}
		return out
	}
	db := map[string]int{"payment": 3, "identity": 4}[app] // components/servers/statestore.yaml
	rdb := redis.NewClient(&redis.Options{Addr: sys.RedisAddr, Password: sys.RedisPassword, DB: db})
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		out = append(out, k...)
		fields, err := rdb.HGetAll(ctx, k).Result()
		require.NoError(t, err)
		for f, v := range fields {
			out = append(out, strings.Join([]string{f, v}, "=")...)
		}
	}
	return out
}
