# Installs moda-agent on a systemd host:  sudo make install      (or build the Debian package: make deb)
#
# Builds the program in release mode and installs it as moda-agent and modactl (one binary, two names: it
# dispatches on the name it is called by), the man pages and shell completions, the systemd
# units and (only if none exists yet) the example config. Packagers: `make install DESTDIR=/tmp/pkgroot PREFIX=/usr`
# stages everything without touching users, groups or systemd. Afterwards:
#   install -m 0600 -o root /dev/stdin /etc/moda-agent/api-key   # paste the Moda API key
#   systemctl enable --now moda-agent.socket moda-agent.service

SWIFT ?= swift
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
CONFDIR ?= $(SYSCONFDIR)/moda-agent
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
SERVICE_USER ?= moda-agent
SERVICE_GROUP ?= moda-agent

INSTALL ?= install
# The installed names. modactl is a symbolic link to moda-agent: one static binary in the package, not two.
PRODUCTS := moda-agent modactl
UNITS := systemd/moda-agent.socket systemd/moda-agent.service systemd/moda-agent-http.socket

.PHONY: all build docs install install-files install-user uninstall deps run test

all: build

# Debian packages, one a line in packaging/build-deps (the build) and packaging/test-deps (the tests, beside
# the build's), installed only when missing: `make deps`, `make test-deps`. Extend the lists, not the targets.
# Roots install directly, others through sudo; --no-install-recommends keeps a CI machine lean.
BUILD_DEPS := packaging/build-deps
TEST_DEPS := packaging/test-deps
define install-missing
	@missing=""; for p in $$(sed 's/#.*//' $(1)); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: test-deps
deps:
	$(call install-missing,$(BUILD_DEPS))

test-deps:
	$(call install-missing,$(BUILD_DEPS) $(TEST_DEPS))

# Quick start: build and run the daemon in the foreground with config.example.json's settings, its socket and
# queue under ./.run (embedded SQLite, nothing else to set up). MODA_API_KEY=... to deliver for real.
RUN_DIR := $(CURDIR)/.run
run: deps
	$(SWIFT) build --product moda-agent
	$(SWIFT) build --product modactl
	@mkdir -p $(RUN_DIR)
	@sed -e 's|/run/moda-agent/ingest.sock|$(RUN_DIR)/ingest.sock|' -e 's|/var/lib/moda-agent/queue.db|$(RUN_DIR)/queue.db|' \
		config.example.json > $(RUN_DIR)/config.json
	@echo "config: $(RUN_DIR)/config.json   socket: $(RUN_DIR)/ingest.sock"
	@echo "try:    echo '{\"conversation_id\":\"c1\",\"role\":\"user\",\"message\":\"hi\"}' | $$($(SWIFT) build --show-bin-path)/modactl --config $(RUN_DIR)/config.json send"
	@echo "then:   $$($(SWIFT) build --show-bin-path)/modactl --config $(RUN_DIR)/config.json status"
	@[ -n "$$MODA_API_KEY" ] || { \
		echo "note:   MODA_API_KEY is not set: the daemon runs with the key 'not-set', so events are queued but not"; \
		echo "        delivered. \`modactl status\` shows delivery unauthorized (Moda refuses the key), or retrying with"; \
		echo "        'cannot resolve the host' when this machine has no network. Stop with Ctrl-C, then run again"; \
		echo "        with MODA_API_KEY=... to deliver what is queued."; }
	MODA_API_KEY="$${MODA_API_KEY:-not-set}" $$($(SWIFT) build --show-bin-path)/moda-agent --config $(RUN_DIR)/config.json

# The whole test suite (unit, end-to-end against the built binaries, systemd units, the Debian package installed
# under a real systemd, fuzz and crash loops). Delivery's timing is tested on the state machine with a manual clock,
# so nothing needs to run apart from the load of the rest. The package needs the release build first (about 10
# minutes cold on 2 cores).
test: test-deps test-packages
	$(SWIFT) build --build-tests
	@# The README's quick start, run as written (make run without a key, then its two commands).
	Tests/readme-quickstart.sh
	@# Latency bounds are measured alone: with every other suite running beside them on 2 cores they
	@# would measure the machine, not the daemon.
	$(SWIFT) test --skip-build --filter '$(TIMED_SUITES)'
	MODA_TEST_DEB=$(CURDIR)/$(DEB_FILE) MODA_TEST_DEB_NEXT=$(CURDIR)/$(TEST_DIST)/moda-agent_$(DEB_NEXT_VERSION)_$(DEB_ARCH).deb \
		$(SWIFT) test --skip-build --skip '$(TIMED_SUITES)'
TIMED_SUITES := ScrapeDuringDrainTests

# The Swift runtime and FoundationEssentials linked in statically: no dependency on the toolchain at run time, and
# about 5 MB less resident memory than shared libraries (measured with moda-bench). Release builds have their own
# scratch folder, shared by install, deb and bench, so they never disturb the debug build the tests use. No $ORIGIN
# run path: the programs load no library of their own; -z now: symbols bound at start, so the GOT can be read-only.
# Less for start-up to read, each measured idle (README, "Where idle memory goes"): the toolchain's static link
# exports every symbol (-export-dynamic), 2.7 MB of symbol tables nothing looks up, -1.3 MiB with
# --no-export-dynamic; lld's packed relative relocations (DT_RELR: glibc 2.36, Debian 12) replace 1.8 MB of
# relocations read at every start with 15 KB, -1.4 MiB more. Still position-independent (ASLR). lld runs through
# packaging/link/ld.lld-as-needed: no DT_NEEDED for a library the program never calls (libz, asked for by
# swift-nio-extras, which uses its own copy).
# Every function in its own section, and the sections start-up and idle run gathered ahead of the rest
# (packaging/link/hot-text.ld, `make hot-text`): each fault on code maps the 64 KiB around it, and that code
# was spread over 18 MB; gathered, an idle daemon's resident code fell from 10.4 to about 4 MiB. libstdc++ linked
# statically (packaging/link/static-libstdc++): -1.1 MiB.
HOT_TEXT := packaging/link/hot-text.ld
RELEASE_FLAGS := -c release --static-swift-stdlib --disable-local-rpath -Xlinker -z -Xlinker now \
	-Xswiftc -use-ld=$(CURDIR)/packaging/link/ld.lld-as-needed \
	-Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs \
	-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections -Xlinker --script=$(CURDIR)/$(HOT_TEXT) \
	-Xlinker -L$(CURDIR)/packaging/link/static-libstdc++
RELEASE_SCRATCH := .build-release
# The driver does not recompile a module whose only change is a -Xfrontend flag (such as -function-sections), so
# a release folder built with other flags starts afresh rather than mixing objects built both ways.
RELEASE_STAMP := $(RELEASE_SCRATCH)/release-flags
RELEASE_BUILD := { [ "$$(cat $(RELEASE_STAMP) 2>/dev/null)" = "$(RELEASE_FLAGS)" ] || \
	{ rm -rf $(RELEASE_SCRATCH) && mkdir -p $(RELEASE_SCRATCH) && echo "$(RELEASE_FLAGS)" > $(RELEASE_STAMP); }; } && \
	$(SWIFT) build $(RELEASE_FLAGS) --scratch-path $(RELEASE_SCRATCH)
RELEASE_BIN := $(RELEASE_SCRATCH)/release
DOC_DIR := $(RELEASE_SCRATCH)/doc

build:
	$(RELEASE_BUILD) --product moda-agent

# Man pages and shell completions, generated from the programs' own argument definitions (swift-argument-parser's
# generate-manual tool and --generate-completion-script), so they cannot drift from --help. Dated by the last
# commit, so the same source gives the same pages. bash sources completions: they need no #! line.
DOC_DATE := $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
docs: build
	$(RELEASE_BUILD) --product generate-manual
	rm -rf $(DOC_DIR) && mkdir -p $(DOC_DIR)/bin $(DOC_DIR)/man $(DOC_DIR)/bash $(DOC_DIR)/zsh $(DOC_DIR)/fish
	@# Each name run as installed: the binary under both names.
	for product in $(PRODUCTS); do ln -sf $(CURDIR)/$(RELEASE_BIN)/moda-agent $(DOC_DIR)/bin/$$product || exit 1; done
	for product in $(PRODUCTS); do \
		$(RELEASE_BIN)/generate-manual $(DOC_DIR)/bin/$$product --date $(DOC_DATE) \
			--authors "moda-agent maintainers" --output-directory $(DOC_DIR)/man || exit 1; \
		gzip -9n $(DOC_DIR)/man/$$product.1 || exit 1; \
		$(DOC_DIR)/bin/$$product --generate-completion-script bash | sed '1{/^#!/d}' > $(DOC_DIR)/bash/$$product || exit 1; \
		$(DOC_DIR)/bin/$$product --generate-completion-script zsh > $(DOC_DIR)/zsh/_$$product || exit 1; \
		$(DOC_DIR)/bin/$$product --generate-completion-script fish > $(DOC_DIR)/fish/$$product.fish || exit 1; \
	done

install: docs install-user
	@$(MAKE) --no-print-directory install-files
	@# systemd is PID 1 exactly when /run/systemd/system exists (sd_booted(3)).
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		echo "systemctl daemon-reload"; systemctl daemon-reload; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ ! -e $(CONFDIR)/api-key ]; then \
		echo "next: put the Moda API key in $(CONFDIR)/api-key (owner root, mode 0600), then"; \
		echo "      systemctl enable --now moda-agent.socket moda-agent.service"; \
	fi

# Copies what `build` and `docs` made; `deb` stages the package's tree with it.
install-files:
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(RELEASE_BIN)/moda-agent $(DESTDIR)$(BINDIR)/moda-agent
	ln -sf moda-agent $(DESTDIR)$(BINDIR)/modactl
	$(INSTALL) -d -m 0755 $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 0644 $(DOC_DIR)/man/*.1.gz $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 $(DOC_DIR)/bash/* $(DESTDIR)$(BASHCOMPDIR)/
	$(INSTALL) -m 0644 $(DOC_DIR)/zsh/* $(DESTDIR)$(ZSHCOMPDIR)/
	$(INSTALL) -m 0644 $(DOC_DIR)/fish/* $(DESTDIR)$(FISHCOMPDIR)/
	$(INSTALL) -d -m 0755 $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0644 systemd/moda-agent.socket $(DESTDIR)$(UNITDIR)/moda-agent.socket
	$(INSTALL) -m 0644 systemd/moda-agent-http.socket $(DESTDIR)$(UNITDIR)/moda-agent-http.socket
	@# The shipped unit runs /usr/local/bin/moda-agent; follow BINDIR when installing elsewhere.
	sed 's|^ExecStart=/usr/local/bin/moda-agent |ExecStart=$(BINDIR)/moda-agent |' systemd/moda-agent.service \
		> $(DESTDIR)$(UNITDIR)/moda-agent.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/moda-agent.service
	$(INSTALL) -d -m 0755 $(DESTDIR)$(CONFDIR)
	@# Never overwrite an operator's config. The daemon (user moda-agent) must read it; the API key stays root-only
	@# (systemd hands it to the service as a credential).
	@if [ -e $(DESTDIR)$(CONFDIR)/config.json ]; then \
		echo "keeping existing $(CONFDIR)/config.json"; \
	else \
		$(INSTALL) -m 0640 config.example.json $(DESTDIR)$(CONFDIR)/config.json && \
		if [ -z "$(DESTDIR)" ]; then chgrp $(SERVICE_GROUP) $(CONFDIR)/config.json; fi; \
	fi

# The Debian package: dist/moda-agent_VERSION_ARCH.deb from the release build (static Swift runtime: it needs only
# libc, libsqlite3 and libsystemd), with man pages, completions, the units under /usr/lib/systemd/system, the config
# as a conffile and maintainer scripts (packaging/deb). DEB_VERSION overrides the package's version only, e.g.
# `make deb DEB_VERSION=0.1.1`; the programs keep theirs. `make lint-deb` runs lintian on it.
AGENT_VERSION := $(shell sed -n 's/.*current = "\(.*\)".*/\1/p' Sources/ModaAgentCore/Daemon/AgentVersion.swift)
DEB_VERSION ?= $(AGENT_VERSION)
DEB_ARCH = $(shell dpkg --print-architecture)
DIST ?= dist
DEB_STAGE = $(RELEASE_SCRATCH)/deb/moda-agent_$(DEB_VERSION)
DEB_FILE = $(DIST)/moda-agent_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: deb lint-deb test-packages
deb: docs
	rm -rf $(DEB_STAGE)
	$(MAKE) --no-print-directory install-files DESTDIR=$(CURDIR)/$(DEB_STAGE) PREFIX=/usr \
		UNITDIR=/usr/lib/systemd/system ZSHCOMPDIR=/usr/share/zsh/vendor-completions
	packaging/deb/build.sh $(DEB_STAGE) $(DEB_VERSION) $(DIST)

# Fails on any error or warning not explained in packaging/deb/lintian-overrides.
lint-deb: test-deps deb
	lintian --fail-on error,warning --display-info $(DEB_FILE)

# The two packages SystemdContainerTests installs under a real systemd: this version, and the same one as the
# next version for the upgrade (kept out of dist/).
DEB_NEXT_VERSION := $(shell echo $(AGENT_VERSION) | awk -F. -v OFS=. '{ $$NF = $$NF + 1; print }')
TEST_DIST := $(RELEASE_SCRATCH)/test-dist
test-packages: lint-deb
	$(MAKE) --no-print-directory deb DEB_VERSION=$(DEB_NEXT_VERSION) DIST=$(TEST_DIST)

# The socket unit's SocketGroup= and the service's User=/Group= need a static system user and group; applications
# that write events join the group. Skipped when staging into DESTDIR (the package's maintainer scripts do it).
install-user:
	@if [ -z "$(DESTDIR)" ]; then \
		getent group $(SERVICE_GROUP) >/dev/null || { echo "groupadd --system $(SERVICE_GROUP)"; \
			groupadd --system $(SERVICE_GROUP); } || exit 1; \
		getent passwd $(SERVICE_USER) >/dev/null || { echo "useradd --system $(SERVICE_USER)"; \
			useradd --system --gid $(SERVICE_GROUP) --home-dir /var/lib/moda-agent --no-create-home \
				--shell /usr/sbin/nologin --comment "moda-agent forwarder" $(SERVICE_USER); } || exit 1; \
	fi

# Removes programs and units. Keeps the config, the API key, the queue in /var/lib/moda-agent (undelivered events!)
# and the user and group.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now moda-agent.service moda-agent.socket moda-agent-http.socket || true; \
	fi
	rm -f $(DESTDIR)$(UNITDIR)/moda-agent.service $(DESTDIR)$(UNITDIR)/moda-agent.socket \
		$(DESTDIR)$(UNITDIR)/moda-agent-http.socket
	for product in $(PRODUCTS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$product $(DESTDIR)$(MANDIR)/man1/$$product.1.gz $(DESTDIR)$(BASHCOMPDIR)/$$product \
			$(DESTDIR)$(ZSHCOMPDIR)/_$$product $(DESTDIR)$(FISHCOMPDIR)/$$product.fish; \
	done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "kept $(CONFDIR), /var/lib/moda-agent and the $(SERVICE_USER) user; remove them by hand if unwanted"

# Benchmark (Sources/moda-bench): release build in its own scratch folder, then every scenario, 3 runs each, with a
# results table on stdout (under 5 minutes on 2 cores). bench-quick: the CI smoke test on a debug build; it fails
# only when something functionally broke, never on a figure.
.PHONY: bench bench-quick
# BENCH_ARGS passes options through, e.g. BENCH_ARGS="--agent OTHER/moda-agent --agent .build-release/release/moda-agent"
# to compare builds side by side in one run.
bench:
	$(RELEASE_BUILD)
	$(RELEASE_BIN)/moda-bench $(BENCH_ARGS)

# Regenerates packaging/link/hot-text.ld from a trace of the release daemon under valgrind (apt install valgrind),
# then relinks with it. Run it after changes to what start-up or the idle loop runs; commit the result.
.PHONY: hot-text
hot-text:
	$(RELEASE_BUILD) --product moda-agent -Xlinker -Map=$(RELEASE_SCRATCH)/moda-agent.map
	python3 packaging/link/hot-text.py $(RELEASE_BIN)/moda-agent $(RELEASE_SCRATCH)/moda-agent.map $(HOT_TEXT)
	rm -f $(RELEASE_BIN)/moda-agent
	$(RELEASE_BUILD) --product moda-agent

bench-quick: deps
	$(SWIFT) build
	.build/debug/moda-bench --quick

# The container image (docs/containers.md): FROM scratch, the release program and the shared libraries ldd finds it
# loading, CA certificates, the container config (packaging/container/config.json) and a health probe; built with
# podman from nothing pulled from a registry. Tagged IMAGE:VERSION and IMAGE:latest; prints the compressed size.
# The container tests (ContainerTests in `make test`) build the same image from the same script.
IMAGE ?= localhost/moda-agent
.PHONY: image
image: build
	packaging/container/build-image.sh $(RELEASE_BIN)/moda-agent $(IMAGE):$(AGENT_VERSION) $(IMAGE):latest
