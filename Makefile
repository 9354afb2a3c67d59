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
.PHONY: all build test unit verify generate bench fuzz clean up install uninstall

# Where `make install` puts things (DESTDIR prefixes them all, for staging
# or packaging): the binaries in BINDIR; the systemd units in UNITDIR, which
# systemd searches for PREFIX /usr/local and /usr, and else /etc/systemd/system;
# the example configurations in SYSCONFDIR/keel; README.md and docs/ in
# DOCDIR. The units and configurations name /usr/local/bin, /etc/keel and
# /usr/local/share/doc/keel in manifests/systemd/ and are rewritten for
# BINDIR, SYSCONFDIR and DOCDIR as they are installed.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= $(if $(filter /usr /usr/local,$(PREFIX)),$(PREFIX)/lib/systemd/system,/etc/systemd/system)
SYSCONFDIR ?= /etc
DOCDIR     ?= $(PREFIX)/share/doc/keel
DESTDIR    ?=
INSTALLED  := $(foreach pair,$(BINARIES),$(lastword $(subst :, ,$(pair))))
UNITS      := $(wildcard manifests/systemd/*.service)
CONFIGS    := $(wildcard manifests/systemd/*.yaml manifests/systemd/*.conf)
REWRITE    := sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/etc/keel/|$(SYSCONFDIR)/keel/|g' \
                  -e 's|/usr/local/share/doc/keel/|$(DOCDIR)/|g'

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

# fuzz: every fuzz target (func FuzzXxx in *_test.go) for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

# install: the binaries and units, replacing older ones; the example
# configurations only where none exists yet (an edited one is kept).
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/keel $(DESTDIR)$(DOCDIR)
	install -m 0755 $(addprefix $(BIN)/,$(INSTALLED)) $(DESTDIR)$(BINDIR)/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	@for f in $(UNITS); do \
	  $(REWRITE) $$f >$(DESTDIR)$(UNITDIR)/$${f##*/}.tmp && chmod 0644 $(DESTDIR)$(UNITDIR)/$${f##*/}.tmp && \
	  mv $(DESTDIR)$(UNITDIR)/$${f##*/}.tmp $(DESTDIR)$(UNITDIR)/$${f##*/} || exit 1; \
	  echo "installed $(DESTDIR)$(UNITDIR)/$${f##*/}"; \
	done
	@for f in $(CONFIGS); do \
	  dst=$(DESTDIR)$(SYSCONFDIR)/keel/$${f##*/}; \
	  if [ -e $$dst ]; then echo "kept $$dst (exists)"; continue; fi; \
	  $(REWRITE) $$f >$$dst.tmp && chmod 0644 $$dst.tmp && mv $$dst.tmp $$dst || exit 1; \
	  echo "installed $$dst"; \
	done

# uninstall: the binaries, units and documentation; the configurations in
# SYSCONFDIR/keel and the state under /var/lib/keel stay.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALLED)) $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))
	rm -rf $(DESTDIR)$(DOCDIR)

up: build
	hack/local-up.sh

clean:
	rm -rf $(BIN)
