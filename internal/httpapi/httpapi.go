// Package httpapi is the one place where Bazaar's JSON APIs decode and
// validate input and encode output and errors (RFC 9457 problem details with
// a stable machine-readable code).
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxBody is the largest request body any API accepts.
const MaxBody = 64 << 10

// Validator is implemented by request types; it returns problems by field.
type Validator interface {
	Valid(ctx context.Context) map[string]string
}

// Problem is an application/problem+json body.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
	// RequestID is the gateway's X-Request-Id, to find the log lines.
	RequestID string `json:"requestId,omitempty"`
}

// Error is an error with an HTTP status and a stable code, safe to show.
type Error struct {
	Status int
	Code   string
	Detail string
	Fields map[string]string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// Errorf makes an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Decode reads a JSON body of at most MaxBody bytes into T, rejecting unknown
// fields and trailing data, and validates it.
func Decode[T any](r *http.Request) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return v, Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json, not %s", ct)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		return v, decodeError(err)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD and let the
	// last of two equal keys win: both are refused, not guessed at.
	if !utf8.Valid(raw) {
		return v, Errorf(http.StatusBadRequest, "invalid_utf8", "the body is not valid UTF-8")
	}
	if field, ok := duplicateKey(raw); ok {
		return v, &Error{Status: http.StatusBadRequest, Code: "duplicate_field", Detail: "the body has a field twice",
			Fields: map[string]string{field: "appears more than once"}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, Errorf(http.StatusBadRequest, "malformed_json", "the body holds more than one JSON value")
	}
	if val, ok := any(&v).(Validator); ok {
		if problems := val.Valid(r.Context()); len(problems) > 0 {
			return v, &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_input", Detail: "some fields are not valid", Fields: problems}
		}
	}
	return v, nil
}

// duplicateKey finds a key that appears twice in one object of a JSON
// document, and names it by its path (e.g. "card.number"). Malformed JSON
// is left to the decoder to report (its scanner also bounds the nesting,
// hence this recursion).
func duplicateKey(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var walk func(path string) (string, bool, error)
	walk = func(path string) (string, bool, error) {
		tok, err := dec.Token()
		if err != nil {
			return "", false, err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return "", false, err
				}
				key, _ := k.(string)
				at := key
				if path != "" {
					at = path + "." + key
				}
				if seen[key] {
					return at, true, nil
				}
				seen[key] = true
				if f, dup, err := walk(at); dup || err != nil {
					return f, dup, err
				}
			}
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if f, dup, err := walk(fmt.Sprintf("%s[%d]", path, i)); dup || err != nil {
					return f, dup, err
				}
			}
		default:
			return "", false, nil // a scalar
		}
		_, err = dec.Token() // the closing delimiter
		return "", false, err
	}
	f, dup, _ := walk("")
	return f, dup
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the body is larger than %d bytes", MaxBody)
	case errors.As(err, &syntaxErr):
		return Errorf(http.StatusBadRequest, "malformed_json", "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Detail: "a field has the wrong type",
			Fields: map[string]string{typeErr.Field: fmt.Sprintf("must be a %s", typeErr.Type)}}
	case errors.Is(err, io.EOF):
		return Errorf(http.StatusBadRequest, "malformed_json", "the body is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Detail: "the body has a field this API does not know",
			Fields: map[string]string{field: "unknown field"}}
	default:
		return Errorf(http.StatusBadRequest, "malformed_json", "malformed JSON")
	}
}

// JSON writes v with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Fail writes err as a problem. An *Error is shown as it is; anything else is
// logged and shown as a generic 500, so internal detail never reaches users.
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "something went wrong on our side"}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "about:blank", Title: http.StatusText(e.Status), Status: e.Status,
		Code: e.Code, Detail: e.Detail, Fields: e.Fields, RequestID: r.Header.Get("X-Request-Id")})
}
