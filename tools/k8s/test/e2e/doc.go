// Package e2e holds `make k8s-e2e`: Bazaar on a real one-node Kubernetes
// cluster built from source (issue 21). Unlike `make k8s-test` (the parent
// package: a control plane with kwok's simulated node), pods really run here:
// containerd 2.x with Debian's runc, a CNI bridge that exists only on this
// machine, the kubelet, kube-proxy and CoreDNS, Dapr's control plane from its
// own Helm chart, and Bazaar's manifests applied with `kubectl apply -k`.
//
// It needs root (a bridge, iptables rules, mounts, cgroups) and the images
// that `make k8s-e2e` builds; tools/k8s/node/NOTES.md has every detail. It is
// a package of its own so that `go test .` in tools/k8s/test (make k8s-test)
// does not run it.
package e2e
