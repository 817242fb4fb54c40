# Installs moda-agent on a systemd host:  sudo make install
#
# Builds both programs in release mode and installs the binaries, the systemd units and (only if none exists yet)
# the example config. Packagers: `make install DESTDIR=/tmp/pkgroot PREFIX=/usr` stages everything without touching
# users, groups or systemd. Afterwards:
#   install -m 0600 -o root /dev/stdin /etc/moda-agent/api-key   # paste the Moda API key
#   systemctl enable --now moda-agent.socket moda-agent.service

SWIFT ?= swift
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
CONFDIR ?= $(SYSCONFDIR)/moda-agent
SERVICE_USER ?= moda-agent
SERVICE_GROUP ?= moda-agent

INSTALL ?= install
PRODUCTS := moda-agent modactl
UNITS := systemd/moda-agent.socket systemd/moda-agent.service

.PHONY: all build install install-user uninstall deps run test

all: build

# The two Debian packages the build links against; installed only when missing.
deps:
	@missing=""; for p in libsqlite3-dev libsystemd-dev pkg-config; do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

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
	@[ -n "$$MODA_API_KEY" ] || echo "note:   MODA_API_KEY is not set; events queue up and delivery reports unauthorized until it is"
	MODA_API_KEY="$${MODA_API_KEY:-not-set}" $$($(SWIFT) build --show-bin-path)/moda-agent --config $(RUN_DIR)/config.json

# The whole test suite (unit, end-to-end against the built binaries, systemd units, fuzz and crash loops). Delivery's
# timing is tested on the state machine with a manual clock, so nothing needs to run apart from the load of the rest.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The Swift runtime and Foundation linked in statically: no dependency on the toolchain at run time, and about
# 5 MB less resident memory than shared libraries (measured with moda-bench).
RELEASE_FLAGS := -c release --static-swift-stdlib

build:
	$(SWIFT) build $(RELEASE_FLAGS) --product moda-agent
	$(SWIFT) build $(RELEASE_FLAGS) --product modactl

install: build install-user
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR)
	bin_path="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)" && \
	for product in $(PRODUCTS); do \
		$(INSTALL) -m 0755 "$$bin_path/$$product" $(DESTDIR)$(BINDIR)/$$product || exit 1; \
	done
	$(INSTALL) -d -m 0755 $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0644 systemd/moda-agent.socket $(DESTDIR)$(UNITDIR)/moda-agent.socket
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
	@# systemd is PID 1 exactly when /run/systemd/system exists (sd_booted(3)).
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		echo "systemctl daemon-reload"; systemctl daemon-reload; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ ! -e $(CONFDIR)/api-key ]; then \
		echo "next: put the Moda API key in $(CONFDIR)/api-key (owner root, mode 0600), then"; \
		echo "      systemctl enable --now moda-agent.socket moda-agent.service"; \
	fi

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
		systemctl disable --now moda-agent.service moda-agent.socket || true; \
	fi
	rm -f $(DESTDIR)$(UNITDIR)/moda-agent.service $(DESTDIR)$(UNITDIR)/moda-agent.socket
	for product in $(PRODUCTS); do rm -f $(DESTDIR)$(BINDIR)/$$product; done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "kept $(CONFDIR), /var/lib/moda-agent and the $(SERVICE_USER) user; remove them by hand if unwanted"

# Benchmark (Sources/moda-bench): release build in its own scratch folder, then every scenario, 3 runs each, with a
# results table on stdout (under 5 minutes on 2 cores). bench-quick: the CI smoke test on a debug build; it fails
# only when something functionally broke, never on a figure.
.PHONY: bench bench-quick
bench:
	$(SWIFT) build $(RELEASE_FLAGS) --scratch-path .build-release
	.build-release/release/moda-bench

bench-quick:
	$(SWIFT) build
	.build/debug/moda-bench --quick
