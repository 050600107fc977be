// Package e2e is Bazaar on a real one-node Kubernetes cluster built from
// source (issue 21): `make k8s-e2e` tests it (TestShopOnARealNode) and
// `make k8s-up` leaves it running (cmd/localnode, through StartShop). Unlike
// `make k8s-test` (the parent package: a control plane with kwok's simulated
// node), pods really run here: containerd 2.x with Debian's runc, a CNI
// bridge that exists only on this machine, the kubelet, kube-proxy, CoreDNS
// and a NetworkPolicy controller, Dapr's control plane from its own Helm
// chart, and Bazaar's manifests applied with `kubectl apply -k`.
//
//	node.go   the node: control plane, containerd, kubelet, kube-proxy, policies
//	host.go   what the node changes on the host, its teardown and Sweep
//	images.go images imported into containerd (no registry)
//	dapr.go   CoreDNS and Dapr's chart
//	shop.go   Redis, PostgreSQL and Mailpit on the host; the shop's manifests
//	up.go     StartShop: all of it, in order
//	probe.go  a pod that crosses the pod network, for the policy check
//
// It needs root (a bridge, iptables rules, mounts, cgroups) and the images
// that `make k8s-node` builds; tools/k8s/node/NOTES.md has every detail. It
// is a package of its own so that `go test .` in tools/k8s/test (make
// k8s-test) does not run it.
package e2e
