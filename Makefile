# Keel build, test and benchmark entry points. See README.md.
GO       ?= go
BIN      ?= bin
BINARIES := apiserver:keel-apiserver scheduler:keel-scheduler \
            controller-manager:keel-controller-manager kubelet:keel-kubelet \
            proxy:keel-proxy ctl:keelctl
# Packages whose code runs goroutines; tested with the race detector.
RACE_PKGS ?= ./pkg/storage/... ./pkg/apiserver/...

.PHONY: all build test unit race verify generate bench clean up

all: build

build:
	@mkdir -p $(BIN)
	@for pair in $(BINARIES); do \
	  dir=$${pair%%:*}; name=$${pair##*:}; \
	  if [ -d cmd/$$dir ]; then $(GO) build -o $(BIN)/$$name ./cmd/$$dir || exit 1; fi; \
	done

generate:
	hack/update-codegen.sh

# verify: generated code current, gofmt clean, go vet clean.
verify:
	hack/update-codegen.sh --verify
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)

# test: everything CI runs.
test: verify build unit race

bench: build
	hack/bench.sh

up: build
	hack/local-up.sh

clean:
	rm -rf $(BIN)
