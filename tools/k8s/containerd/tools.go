//go:build tools

// Package containerd records the upstream commands built from this module so
// that `go mod tidy` keeps their dependencies: containerd 2.x, its runc shim
// and ctr, for the spike of a real Kubernetes node (tools/k8s/node).
package containerd

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
