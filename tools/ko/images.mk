# make images: OCI images of every service, built with ko (tools/ko).
#
# tools/ko is its own Go module, so ko and go-containerregistry never enter
# the root module. `go build` is cheap when nothing changed (it compares build
# ids), so both tools are always (re)built rather than tracked by make.
# nice: image builds compile every app and must not starve other work.
KO_TOOLS := bin/ko

.PHONY: images images-test

# The throwaway registry's loopback address, only while `make images` runs.
IMAGES_REGISTRY ?= 127.0.0.1:5391

## images: one OCI image per app (bin/images, with an SBOM each), no Docker
images:
	@mkdir -p $(KO_TOOLS)
	@cd tools/ko && nice go build -o ../../$(KO_TOOLS)/ko github.com/google/ko
	@cd tools/ko && nice go build -o ../../$(KO_TOOLS)/images .
	nice $(KO_TOOLS)/images -ko $(KO_TOOLS)/ko -out bin/images -config tools/ko/.ko.yaml -logs $(KO_TOOLS)/logs -registry $(IMAGES_REGISTRY)

## images-test: build the images, then prove them (tools/ko/images_test.go)
images-test: images
	cd tools/ko && nice go test -count=1 -v -run 'TestImages|TestEntrypointsRun|TestChecksCatchBadImages' . 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'; exit $${PIPESTATUS[0]}
