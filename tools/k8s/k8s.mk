# make k8s-test: Bazaar on a real Kubernetes control plane (tools/k8s).
#
# k8s-tools builds the control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd: tools/k8s), kwok (tools/k8s/kwok) and Dapr's sidecar
# injector (dapr/runtime) into bin/k8s/; k8s-test (tools/k8s/test) starts them
# on loopback with Dapr's CRDs and Helm chart and applies Bazaar's manifests.
.PHONY: k8s-tools k8s-test

K8S_BIN := bin/k8s
K8S_VERSION := v1.37.2
# The version the API server reports (charts and clients look at it).
K8S_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
# The manifests k8s-test applies (a kustomization, or a folder of plain YAML):
# the example overlay, which builds on the generated base.
K8S_MANIFESTS ?= deploy/overlays/example
K8S_TEST_FLAGS ?= -count=1 -timeout 20m -v

## k8s-tools: build the Kubernetes control plane, kwok and Dapr's injector into bin/k8s/
k8s-tools: $(K8S_BIN)/.built-control-plane $(K8S_BIN)/kwok $(K8S_BIN)/injector

## k8s-test: Dapr's chart and injector, then Bazaar's manifests, on a real API server with a simulated node
# It applies the committed deploy/ as it is (no k8s-manifests first): the
# drift test in internal/k8s is what says whether that is current.
k8s-test: k8s-tools dapr
	cd tools/k8s/test && BAZAAR_K8S_BIN=$(CURDIR)/$(K8S_BIN) \
	  BAZAAR_DAPR_CHART=$$(go env GOMODCACHE)/github.com/dapr/dapr@v$(DAPR_VERSION)/charts/dapr \
	  BAZAAR_K8S_MANIFESTS=$(abspath $(K8S_MANIFESTS)) \
	  go test $(K8S_TEST_FLAGS) .

# k8s_build runs `go build $(3)` in module $(2) at low priority (others share
# the 2 cores), printing its progress and how long it took.
define k8s_build
	@mkdir -p $(K8S_BIN)
	@echo "Building $(1) from source ($(2))."
	@start=$$(date +%s); ( cd $(2) && nice go build $(3) ) & pid=$$!; \
	n=0; while kill -0 $$pid 2>/dev/null; do sleep 1; n=$$((n+1)); [ $$((n % 30)) = 0 ] && echo "  … still building $(1) ($${n}s)"; done; \
	wait $$pid || exit 1; \
	echo "$(1) built in $$(( $$(date +%s) - start ))s"
endef

# One go build for the three Kubernetes commands (they share most of their
# ~2700 packages), then etcd; the first build takes about 25 minutes on 2 cores.
K8S_CONTROL_PLANE_BUILD := -ldflags "$(K8S_LDFLAGS)" -o $(CURDIR)/$(K8S_BIN)/ \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
  && nice go build -o $(CURDIR)/$(K8S_BIN)/etcd go.etcd.io/etcd/server/v3
$(K8S_BIN)/.built-control-plane: tools/k8s/go.mod tools/k8s/go.sum
	$(call k8s_build,kube-apiserver kube-controller-manager kube-scheduler etcd,tools/k8s,$(K8S_CONTROL_PLANE_BUILD))
	@touch $@

$(K8S_BIN)/kwok: tools/k8s/kwok/go.mod tools/k8s/kwok/go.sum
	$(call k8s_build,kwok,tools/k8s/kwok,-o $(CURDIR)/$@ sigs.k8s.io/kwok/cmd/kwok)

# Dapr's sidecar injector and operator, from the module that pins Dapr's
# runtime, built as daprd is, in one go build (they share most packages).
K8S_DAPR_CONTROL_BUILD := -tags stablecomponents -ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)" \
  -o $(CURDIR)/$(K8S_BIN)/ github.com/dapr/dapr/cmd/injector github.com/dapr/dapr/cmd/operator
$(K8S_BIN)/injector $(K8S_BIN)/operator &: dapr/runtime/go.mod dapr/runtime/go.sum
	$(call k8s_build,the Dapr sidecar injector and operator,dapr/runtime,$(K8S_DAPR_CONTROL_BUILD))

# k8s-node-tools: what a real node needs besides the control plane: the
# kubelet and kube-proxy from tools/k8s (one go build; about 100 s when the
# control plane is already built), containerd 2.x with its runc shim and ctr
# from tools/k8s/containerd (about 90 s), the NetworkPolicy controller
# (tools/k8s/netpol) and kubectl (bin/kubectl, one of `make tools`). runc
# and the CNI plugins come from Debian (k8s-node-deps).
.PHONY: k8s-node-tools
## k8s-node-tools: build kubelet, kube-proxy, containerd 2.x and a NetworkPolicy controller into bin/k8s/ (a real node)
k8s-node-tools: $(K8S_BIN)/.built-node $(K8S_BIN)/containerd $(K8S_BIN)/kubectl $(K8S_BIN)/kube-network-policies

K8S_NODE_BUILD := -ldflags "$(K8S_LDFLAGS)" -o $(CURDIR)/$(K8S_BIN)/ k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
$(K8S_BIN)/.built-node: tools/k8s/go.mod tools/k8s/go.sum
	$(call k8s_build,kubelet kube-proxy,tools/k8s,$(K8S_NODE_BUILD))
	@touch $@

# kubectl, the cluster's version, for users (make k8s-up prints how) and for
# the node, which finds it with its other binaries.
bin/kubectl: tools/k8s/go.mod tools/k8s/go.sum
	$(call k8s_build,kubectl,tools/k8s,-ldflags "$(K8S_LDFLAGS)" -o $(CURDIR)/$@ k8s.io/kubernetes/cmd/kubectl)
$(K8S_BIN)/kubectl: bin/kubectl
	@mkdir -p $(K8S_BIN)
	ln -sf ../kubectl $@

# The NetworkPolicy controller (sigs.k8s.io/kube-network-policies v0.8.0, the
# one kindnet runs) with a main of our own that takes a kubeconfig
# (tools/k8s/netpol; about 95 s cold).
$(K8S_BIN)/kube-network-policies: export CGO_ENABLED := 0
$(K8S_BIN)/kube-network-policies: tools/k8s/netpol/go.mod tools/k8s/netpol/go.sum tools/k8s/netpol/main.go
	$(call k8s_build,kube-network-policies,tools/k8s/netpol,-o $(CURDIR)/$@ .)

# no_btrfs: the btrfs snapshotter needs cgo and btrfs headers.
CONTAINERD_VERSION := v2.4.2
K8S_CONTAINERD_BUILD := -tags "urfave_cli_no_docs no_btrfs" \
  -ldflags "-X github.com/containerd/containerd/v2/version.Version=$(CONTAINERD_VERSION)" -o $(CURDIR)/$(K8S_BIN)/ \
  github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr
$(K8S_BIN)/containerd: tools/k8s/containerd/go.mod tools/k8s/containerd/go.sum
	$(call k8s_build,containerd containerd-shim-runc-v2 ctr,tools/k8s/containerd,$(K8S_CONTAINERD_BUILD))

# k8s-e2e: Bazaar on a real one-node cluster (issue 21; tools/k8s/test/e2e,
# tools/k8s/node/NOTES.md). The node: the control plane, the kubelet,
# kube-proxy, kubectl and containerd (k8s-tools, k8s-node-tools), Debian's
# runc and CNI plugins; CoreDNS and Dapr's control plane run as pods from
# images written here without a registry (k8s-node-images); the apps' images
# are ko's bin/images. Part of `make test`; it needs root (a bridge, iptables,
# containers) and takes the machine's 2 cores for about two minutes.
.PHONY: k8s-node-images k8s-e2e k8s-node-deps

K8S_IMAGES := $(K8S_BIN)/images
K8S_IMAGE_TOOLS := $(K8S_BIN)/image-tools
K8S_E2E_FLAGS ?= -count=1 -timeout 30m -v
# The Dapr binaries of `make dapr` and of k8s-tools are built with cgo: their
# images carry the host's C library and loader, and the user 65532 that the
# chart's runAsNonRoot needs.
K8S_DAPR_IMAGES := daprd placement sentry scheduler injector operator
K8S_IMAGE_LIBS := /lib/x86_64-linux-gnu/libc.so.6:lib/x86_64-linux-gnu/libc.so.6 \
  /lib64/ld-linux-x86-64.so.2:lib64/ld-linux-x86-64.so.2 \
  $(K8S_IMAGE_TOOLS)/passwd:etc/passwd /etc/ssl/certs/ca-certificates.crt:etc/ssl/certs/ca-certificates.crt

## k8s-node-images: images for the real node (pause, CoreDNS, Dapr's control plane and daprd) into bin/k8s/images
k8s-node-images: $(K8S_IMAGES)/pause.tar $(K8S_IMAGES)/coredns.tar $(K8S_IMAGES)/web.tar $(foreach b,$(K8S_DAPR_IMAGES),$(K8S_IMAGES)/dapr-$(b).tar)

# imgtool writes docker-archive tarballs for `ctr images import`; pause is the
# pod sandbox (tools/k8s/node/images). go build skips what is up to date.
$(K8S_IMAGE_TOOLS)/imgtool $(K8S_IMAGE_TOOLS)/pause $(K8S_IMAGE_TOOLS)/web &: tools/k8s/node/images/go.mod tools/k8s/node/images/go.sum \
  tools/k8s/node/images/imgtool/main.go tools/k8s/node/images/pause/main.go tools/k8s/node/images/web/main.go
	@mkdir -p $(K8S_IMAGE_TOOLS)
	cd tools/k8s/node/images && CGO_ENABLED=0 nice go build -o $(CURDIR)/$(K8S_IMAGE_TOOLS)/ ./imgtool ./pause ./web
	@printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >$(K8S_IMAGE_TOOLS)/passwd

# containerd 2.4 pins this sandbox image; the node imports its own under that name.
$(K8S_IMAGES)/pause.tar: $(K8S_IMAGE_TOOLS)/pause | $(K8S_IMAGE_TOOLS)/imgtool
	@mkdir -p $(K8S_IMAGES)
	$(K8S_IMAGE_TOOLS)/imgtool bin $< registry.k8s.io/pause:3.10.2 $@

# web: a tiny HTTP server and client; the NetworkPolicy check's probe pods.
$(K8S_IMAGES)/web.tar: $(K8S_IMAGE_TOOLS)/web | $(K8S_IMAGE_TOOLS)/imgtool
	@mkdir -p $(K8S_IMAGES)
	$(K8S_IMAGE_TOOLS)/imgtool bin $< $(K8S_WEB_IMAGE) $@
K8S_WEB_IMAGE := bazaar.local/web:1

$(K8S_IMAGES)/coredns.tar: $(K8S_BIN)/coredns | $(K8S_IMAGE_TOOLS)/imgtool
	@mkdir -p $(K8S_IMAGES)
	$(K8S_IMAGE_TOOLS)/imgtool bin $< bazaar.local/coredns:1.13.1 $@

# dapr-<name>.tar is bazaar.local/dapr/<name>:$(DAPR_VERSION), the name Dapr's
# chart gives it with global.registry=bazaar.local/dapr.
define k8s_dapr_image
$(K8S_IMAGES)/dapr-$(1).tar: $(2) | $(K8S_IMAGE_TOOLS)/imgtool
	@mkdir -p $(K8S_IMAGES)
	IMG_USER=65532:65532 nice $(K8S_IMAGE_TOOLS)/imgtool files bazaar.local/dapr/$(1):$(DAPR_VERSION) $$@ /$(1) $(3):$(1) $(K8S_IMAGE_LIBS)
endef
$(foreach b,daprd placement sentry scheduler,$(eval $(call k8s_dapr_image,$(b),bin/.built-$(DAPR_VERSION),bin/$(b))))
$(foreach b,injector operator,$(eval $(call k8s_dapr_image,$(b),$(K8S_BIN)/$(b),$(K8S_BIN)/$(b))))

# CoreDNS v1.13.1, static, in its own module (it pins client-go v0.34.1).
$(K8S_BIN)/coredns: export CGO_ENABLED := 0
$(K8S_BIN)/coredns: tools/k8s/coredns/go.mod tools/k8s/coredns/go.sum
	$(call k8s_build,CoreDNS,tools/k8s/coredns,-ldflags "-s -w" -o $(CURDIR)/$@ github.com/coredns/coredns)

# Debian's runc and CNI plugins (bridge, host-local, loopback).
k8s-node-deps:
	@missing=""; [ -x /usr/sbin/runc ] || missing="$$missing runc"; \
	[ -x /usr/lib/cni/bridge ] || missing="$$missing containernetworking-plugins"; \
	if [ -n "$$missing" ]; then echo "Installing$$missing from Debian's packages."; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

## k8s-e2e: Bazaar on a real one-node cluster built here: pods 2/2 with Dapr's sidecars, a checkout paid (needs root)
k8s-e2e: k8s-node
	cd tools/k8s/test && BAZAAR_K8S_BIN=$(CURDIR)/$(K8S_BIN) BAZAAR_K8S_IMAGES=$(CURDIR)/$(K8S_IMAGES) \
	  BAZAAR_DAPR_CHART=$(DAPR_CHART) go test $(K8S_E2E_FLAGS) ./e2e

# k8s-node: everything the real node and the shop on it need.
.PHONY: k8s-node k8s-up k8s-down
k8s-node: k8s-tools k8s-node-tools k8s-node-images k8s-node-deps images bin/mailpit
DAPR_CHART = $$(go env GOMODCACHE)/github.com/dapr/dapr@v$(DAPR_VERSION)/charts/dapr

# k8s-up and k8s-down: the same cluster and shop as k8s-e2e, left running
# (tools/k8s/test/cmd/localnode; its state in bin/local-node, the node's in
# /tmp/bazaar-node). One cluster at a time: stop it before make k8s-e2e.
## k8s-up: start the real one-node cluster with the shop and leave it running; prints the shop's loopback URL and the kubeconfig (needs root)
k8s-up: k8s-node bin/localnode
	BAZAAR_DAPR_CHART=$(DAPR_CHART) bin/localnode up -root $(CURDIR) -state $(CURDIR)/bin/local-node

## k8s-down: stop what make k8s-up started and remove all of it from the host
k8s-down: bin/localnode
	bin/localnode down -root $(CURDIR) -state $(CURDIR)/bin/local-node

# go build checks what changed.
.PHONY: bin/localnode
bin/localnode:
	cd tools/k8s/test && go build -o $(CURDIR)/$@ ./cmd/localnode
