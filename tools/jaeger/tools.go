//go:build tools

// Package jaeger records the upstream command built from this module so that
// `go mod tidy` keeps its dependencies.
package jaeger

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
