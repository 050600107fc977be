package daprapp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequireAppToken(t *testing.T) {
	h := RequireAppToken("s3cret", "/healthz")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/products", "s3cret", 200},
		{"/products", "", 401},
		{"/products", "s3cre", 401},
		{"/products", "s3cret!", 401},
		{"/healthz", "", 200},
		{"/healthz/../products", "", 401},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = tt.path
		if tt.token != "" {
			r.Header.Set("dapr-api-token", tt.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, tt.want, w.Code, "%s with %q", tt.path, tt.token)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"APP_ID": "catalog", "APP_PORT": "5000", "DAPR_GRPC_PORT": "5001", "DAPR_HTTP_PORT": "5002", "APP_API_TOKEN": "t"}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, Config{AppID: "catalog", Port: 5000, DaprGRPC: 5001, DaprHTTP: 5002, AppToken: "t", Listen: "127.0.0.1"}, c)

	env["APP_PORT"], env["APP_API_TOKEN"] = "port", ""
	delete(env, "DAPR_GRPC_PORT")
	_, err = ConfigFromEnv(func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `APP_PORT="port" is not a port`)
	assert.Contains(t, err.Error(), "DAPR_GRPC_PORT is required")
	assert.Contains(t, err.Error(), "APP_API_TOKEN is required")
}
