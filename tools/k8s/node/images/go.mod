// Module images makes the real-node spike's images without a registry or a
// base image (tools/k8s/node/NOTES.md): a pause binary for pod sandboxes, a
// tiny web server, and imgtool, which writes docker-archive tarballs that
// `ctr images import` takes. Separate from tools/k8s so that
// go-containerregistry stays out of the Kubernetes module.
module github.com/bazaar-shop/bazaar/tools/k8s/node/images

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
