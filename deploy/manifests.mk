# make k8s-manifests: the Kubernetes manifests in deploy/base, generated from
# compose.yaml, dapr/config.yaml and components/ (internal/k8s). Commit the
# result; `go test ./internal/k8s` fails when it is out of date.
.PHONY: k8s-manifests
k8s-manifests:
	go run ./cmd/bazaar manifests -o deploy/base
