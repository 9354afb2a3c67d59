# Keel build, test and benchmark entry points. See README.md.
GO       ?= go
BIN      ?= bin
# VERSION and COMMIT are stamped into every binary (--version, the metric
# keel_build_info): the nearest v* tag as git describe gives it, else
# v0.0.0-devel; the commit checked out.
VERSION  ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.0.0-devel)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X keel.dev/keel/pkg/version.gitVersion=$(VERSION) -X keel.dev/keel/pkg/version.gitCommit=$(COMMIT)
BINARIES := apiserver:keel-apiserver scheduler:keel-scheduler \
            controller-manager:keel-controller-manager kubelet:keel-kubelet \
            proxy:keel-proxy ctl:keelctl
.PHONY: all build test unit verify generate bench fuzz clean up

all: build

build:
	@mkdir -p $(BIN)
	@for pair in $(BINARIES); do \
	  dir=$${pair%%:*}; name=$${pair##*:}; \
	  if [ -d cmd/$$dir ]; then $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/$$name ./cmd/$$dir || exit 1; fi; \
	done

generate:
	hack/update-codegen.sh

# verify: generated code current, gofmt clean, go vet clean.
verify:
	hack/update-codegen.sh --verify
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# unit: every test, without the race detector (quicker while iterating).
unit:
	$(GO) test -count=1 ./...

# test: everything CI runs: generated code, format and vet, the binaries,
# then every test under the race detector.
test: verify build
	$(GO) test -count=1 -race ./...

bench: build
	hack/bench.sh

# bench-overload: only bench's scenario "overload" (docs/overload.md).
.PHONY: bench-overload
bench-overload: build
	BENCH_ONLY=overload hack/bench.sh

# fuzz: every fuzz target (func FuzzXxx in *_test.go) for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

up: build
	hack/local-up.sh

clean:
	rm -rf $(BIN)
