//go:build tools

// Package daproperator records the upstream command built from this module
// so that `go mod tidy` keeps its dependencies.
package daproperator

import _ "github.com/dapr/dapr/cmd/operator"
