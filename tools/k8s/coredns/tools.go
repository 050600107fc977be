//go:build tools

// Package coredns records the upstream command built from this module so
// that `go mod tidy` keeps its dependencies.
package coredns

import _ "github.com/coredns/coredns"
