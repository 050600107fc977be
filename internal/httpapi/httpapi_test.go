package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type item struct {
	Quantity int `json:"quantity"`
}

func (i item) Valid(context.Context) map[string]string {
	if i.Quantity < 1 || i.Quantity > 99 {
		return map[string]string{"quantity": "must be between 1 and 99"}
	}
	return nil
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, body, contentType string
		status                  int
		code, field             string
	}{
		{"valid", `{"quantity":2}`, "application/json", 0, "", ""},
		{"invalid field", `{"quantity":0}`, "", 422, "invalid_input", "quantity"},
		{"malformed", `{"quantity":`, "", 400, "malformed_json", ""},
		{"empty", ``, "", 400, "malformed_json", ""},
		{"wrong type", `{"quantity":"two"}`, "", 400, "malformed_json", "quantity"},
		{"unknown field", `{"quantity":1,"price":0}`, "", 400, "unknown_field", "price"},
		{"two values", `{"quantity":1}{"quantity":2}`, "", 400, "malformed_json", ""},
		{"too large", `{"quantity":1,"pad":"` + strings.Repeat("x", MaxBody) + `"}`, "", 413, "body_too_large", ""},
		{"not json", `quantity=1`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"duplicate key, bad one first", `{"quantity":0,"quantity":2}`, "", 400, "duplicate_field", "quantity"},
		{"duplicate key, nested", `{"quantity":2,"x":{"a":1,"a":2}}`, "", 400, "duplicate_field", "x.a"},
		{"duplicate key in an array's object", `{"quantity":2,"x":[{"a":1},{"b":1,"b":1}]}`, "", 400, "duplicate_field", "x[1].b"},
		{"invalid UTF-8", "{\"quantity\":2,\"note\":\"\xff\xfe\"}", "", 400, "invalid_utf8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			v, err := Decode[item](r)
			if tt.status == 0 {
				require.NoError(t, err)
				assert.Equal(t, 2, v.Quantity)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.status, e.Status)
			assert.Equal(t, tt.code, e.Code)
			if tt.field != "" {
				assert.Contains(t, e.Fields, tt.field)
			}
		})
	}
}

func TestFailHidesInternalErrors(t *testing.T) {
	w := httptest.NewRecorder()
	Fail(w, httptest.NewRequest(http.MethodGet, "/", nil), slog.New(slog.NewTextHandler(io.Discard, nil)), errors.New("redis: password=hunter2 refused"))
	assert.Equal(t, 500, w.Code)
	assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	assert.NotContains(t, w.Body.String(), "hunter2")
	var p Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	assert.Equal(t, "internal", p.Code)

	w = httptest.NewRecorder()
	Fail(w, httptest.NewRequest(http.MethodGet, "/", nil), nil, Errorf(404, "product_not_found", "no such product"))
	assert.Equal(t, 404, w.Code)
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	assert.Equal(t, "product_not_found", p.Code)
}

// FuzzDecode: whatever the body, Decode either refuses it with a problem or
// returns a value from a body that is valid UTF-8 with no key twice.
func FuzzDecode(f *testing.F) {
	f.Add(`{"quantity":2}`)
	f.Add(`{"quantity":0,"quantity":2}`)
	f.Add("{\"quantity\":2,\"x\":\"\xff\"}")
	f.Add(`{"quantity":2,"x":[{"a":1},{"a":1,"a":2}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		v, err := Decode[item](r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
				t.Fatalf("%q: %v is not a 4xx problem", body, err)
			}
			return
		}
		if _, dup := duplicateKey([]byte(body)); dup || !utf8.ValidString(body) || v.Quantity < 1 {
			t.Fatalf("accepted %q", body)
		}
	})
}
