# Bazaar — the two commands you need are `make run` and `make test`.
SHELL := /bin/bash
DAPR_VERSION := 1.18.0
DAPR_BINARIES := daprd placement sentry scheduler
# Point BAZAAR_DAPR_BIN at a folder with your own daprd, placement, sentry and
# scheduler (1.16.x, daprd with pubsub.jetstream and nameresolution.sqlite) to
# skip building them.
ifdef BAZAAR_DAPR_BIN
OWN_DAPR := 1
else
export BAZAAR_DAPR_BIN := $(CURDIR)/bin
endif
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# One test package at a time: the integration tests start whole systems
# (up to 17 processes each) and several bound latency and recovery times,
# which two packages side by side on 2 cores made flaky.
GO_TEST_FLAGS ?= -count=1 -timeout 30m -p 1

.PHONY: run run-dapr test bench crash fuzz lighthouse dapr tools deps check generate htmx clean

## run: build what is missing and start every service (embedded profile)
# The shop does not wait for Jaeger, Mailpit and the Dapr CLI: when they are
# missing (a fresh machine) they are built in the background, at low
# priority, and tracing and the mail catcher join once built.
run: dapr
	@go build -o bin/bazaar ./cmd/bazaar
	@building=; if ! $(MAKE) -s -q tools 2>/dev/null; then \
	  echo "Building Jaeger, Mailpit and the Dapr CLI in the background (bin/tools-build.log): tracing and e-mail join when they are built."; \
	  nohup nice -n 19 $(MAKE) -s tools > bin/tools-build.log 2>&1 & building=-tools-building; \
	fi; \
	exec bin/bazaar run $$building $(if $(PROFILE),-profile $(PROFILE)) $(if $(PROFILING),-profiling)

## run-dapr: like run, but the Dapr CLI (`bin/dapr run -f`) starts the apps and their sidecars
run-dapr: dapr tools
	@go build -o bin/bazaar ./cmd/bazaar
	exec bin/bazaar run -dapr-cli bin/dapr $(if $(PROFILE),-profile $(PROFILE))

## test: generated code, formatting, vet, unit and integration tests (both profiles), the manifests on a control plane (k8s-test) and the shop on a real one-node cluster (k8s-e2e, as root)
test: dapr tools deps check images-test k8s-test k8s-e2e
	go test $(GO_TEST_FLAGS) ./...

## bench: the measured figures in docs/benchmarks.md, then each beside its goal (cmd/benchsummary; PROFILES=dir also keeps CPU profiles of every app and sidecar under the main loads)
bench: dapr tools deps
	$(if $(PROFILES),BAZAAR_PROFILES=$(abspath $(PROFILES))) go test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./... | tee bench.out
	@echo; go run ./cmd/benchsummary bench.out

## crash: the saga crash matrix 10 times in a row, both profiles (about 17 minutes)
CRASH_ROUNDS ?= 10
crash: dapr deps
	BAZAAR_CRASH_ROUNDS=$(CRASH_ROUNDS) go test -count=1 -timeout 90m -run 'TestSagaCrashMatrix' -v ./services/ordering | tee crash.out | grep -E '^\s*--- |slowest|^(ok|FAIL)'

## fuzz: run each request-decoder fuzzer and the hostile sweep for FUZZTIME (new crashers land in testdata/fuzz)
FUZZTIME ?= 30s
HOSTILE_FUZZTIME ?= 3m
fuzz:
	@for pkg in ./internal/httpapi ./services/basket ./services/catalog; do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
	    go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
	@# The hostile sweep runs against a whole system per worker: one worker.
	@# Its clock includes the 80 s the worker takes to start the system.
	go test -run '^$$' -fuzz '^FuzzHostileInput$$' -fuzztime $(HOSTILE_FUZZTIME) -parallel 1 ./services/gateway

## lighthouse: Lighthouse scores of every page a shopper sees, signed out and in (start `make run` first; needs npm)
lighthouse:
	tools/lighthouse/lighthouse.sh

## tools: build Jaeger (traces, tools/jaeger), Mailpit (e-mail, tools/mailpit), the Dapr CLI (tools/daprcli) and kubectl (tools/k8s) into bin/
tools: bin/jaeger bin/mailpit bin/dapr bin/kubectl

bin/dapr: tools/daprcli/go.mod tools/daprcli/go.sum
	@mkdir -p bin
	@echo "Building the Dapr CLI from source (tools/daprcli); the first build takes a few minutes."
	@start=$$(date +%s); ( cd tools/daprcli && go build -o $(CURDIR)/bin/dapr \
	    -ldflags "-X main.version=$$(sed -n 's,.*github.com/dapr/cli v\([^ ]*\).*,\1,p' go.mod)" github.com/dapr/cli ) && \
	  echo "Dapr CLI built in $$(( $$(date +%s) - start ))s"

bin/mailpit: tools/mailpit/go.mod tools/mailpit/go.sum
	@mkdir -p bin
	@echo "Building Mailpit from source (tools/mailpit); the first build takes a few minutes."
	@start=$$(date +%s); ( cd tools/mailpit && go build -o $(CURDIR)/bin/mailpit github.com/axllent/mailpit ) && \
	  echo "Mailpit built in $$(( $$(date +%s) - start ))s"

bin/jaeger: tools/jaeger/go.mod tools/jaeger/go.sum
	@mkdir -p bin
	@echo "Building Jaeger from source (tools/jaeger); the first build takes a few minutes."
	@start=$$(date +%s); ( cd tools/jaeger && go build -o $(CURDIR)/bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger ) && \
	  echo "Jaeger built in $$(( $$(date +%s) - start ))s"

## dapr: build daprd, placement, sentry and scheduler from the pinned Go module
ifdef OWN_DAPR
dapr:
	@for b in $(DAPR_BINARIES); do [ -x "$(BAZAAR_DAPR_BIN)/$$b" ] || { echo "BAZAAR_DAPR_BIN=$(BAZAAR_DAPR_BIN) has no $$b"; exit 1; }; done
else
dapr: bin/.built-$(DAPR_VERSION)
endif

bin/.built-$(DAPR_VERSION): dapr/runtime/go.mod dapr/runtime/go.sum dapr/runtime/daprd/main.go
	@mkdir -p bin
	@echo "Building the Dapr runtime $(DAPR_VERSION) ($(DAPR_BINARIES)) from source."
	@echo "The first build downloads about 5 GB of modules and takes 10-20 minutes on 2 cores; later builds take seconds."
	@start=$$(date +%s); \
	( cd dapr/runtime && go build -tags stablecomponents \
	    -ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_VERSION)" \
	    -o $(CURDIR)/bin/ ./daprd github.com/dapr/dapr/cmd/placement github.com/dapr/dapr/cmd/sentry github.com/dapr/dapr/cmd/scheduler ) & pid=$$!; \
	n=0; while kill -0 $$pid 2>/dev/null; do sleep 1; n=$$((n+1)); [ $$((n % 15)) = 0 ] && echo "  … still building ($${n}s)"; done; \
	wait $$pid || exit 1; \
	echo "Dapr runtime built in $$(( $$(date +%s) - start ))s"
	@touch $@

## dapr-previous: build the runtime Bazaar upgraded from (1.16.0, dapr/runtime/previous.mod) into bin/dapr-1.16.0, and the apps as they were on it into bin/dapr-1.16.0/apps
# The upgrade test runs them to write a data folder that today's runtime and
# apps must read; `make bench` compares the two runtimes. The runtime is built
# like `make dapr`, from the same daprd/main.go; the apps from the last commit
# that ran on 1.16.0 (git archive: the work tree is not touched).
DAPR_PREVIOUS := 1.16.0
APPS_PREVIOUS_COMMIT := 57d65d7
dapr-previous: bin/dapr-$(DAPR_PREVIOUS)/.built bin/dapr-$(DAPR_PREVIOUS)/apps/.built

bin/dapr-$(DAPR_PREVIOUS)/apps/.built:
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && git archive $(APPS_PREVIOUS_COMMIT) | tar -x -C $$tmp && \
	  ( cd $$tmp && nice go build -o $(CURDIR)/$(@D)/ ./services/... ./frontends/shell ./internal/harness/probe ) ; \
	  rc=$$?; rm -rf $$tmp; exit $$rc
	@touch $@

bin/dapr-$(DAPR_PREVIOUS)/.built: dapr/runtime/previous.mod dapr/runtime/previous.sum dapr/runtime/daprd/main.go
	@mkdir -p $(@D)
	@echo "Building the previous Dapr runtime $(DAPR_PREVIOUS) from source (dapr/runtime/previous.mod); the first build takes 5-10 minutes."
	@start=$$(date +%s); \
	( cd dapr/runtime && nice go build -modfile previous.mod -tags stablecomponents \
	    -ldflags "-X github.com/dapr/dapr/pkg/buildinfo.version=$(DAPR_PREVIOUS)" \
	    -o $(CURDIR)/$(@D)/ ./daprd github.com/dapr/dapr/cmd/placement github.com/dapr/dapr/cmd/sentry github.com/dapr/dapr/cmd/scheduler ) || exit 1; \
	echo "Dapr runtime $(DAPR_PREVIOUS) built in $$(( $$(date +%s) - start ))s"
	@touch $@

## deps: servers and the browser the tests use, from Debian's packages when missing
deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/prometheus ] || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing$$missing from Debian's packages…"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

## check: no build outputs tracked, generated code is current, gofmt, go vet and staticcheck are clean
check: generate
	go run ./cmd/repocheck
	@git diff --exit-code --stat -- '*_templ.go' || { echo "generated templ code was stale: commit the regenerated files"; exit 1; }
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt would change: $$out"; exit 1; }
	go vet ./...
	go tool staticcheck ./...

generate:
	go tool templ generate

## htmx: vendor the htmx version pinned in frontends/shell/package.json (needs npm)
htmx:
	@v=$$(sed -n 's/.*"htmx.org": "\(.*\)".*/\1/p' frontends/shell/package.json); tmp=$$(mktemp -d); \
	( cd $$tmp && npm pack --silent htmx.org@$$v >/dev/null && tar xzf htmx.org-$$v.tgz ) && \
	cp $$tmp/package/dist/htmx.min.js frontends/shell/static/htmx.min.js && cp $$tmp/package/LICENSE frontends/shell/htmx.LICENSE && \
	rm -rf $$tmp && echo "vendored htmx $$v"

clean:
	rm -rf bin .data

# Containers and Kubernetes (issue 12): their targets live next to their tools.
include deploy/manifests.mk
include tools/ko/images.mk
include tools/k8s/k8s.mk
