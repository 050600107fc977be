//go:build tools

// Package mailpit records the upstream command built from this module so that
// `go mod tidy` keeps its dependencies.
package mailpit

import _ "github.com/axllent/mailpit"
