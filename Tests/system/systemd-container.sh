#!/usr/bin/env bash
# Boots a real systemd in a throw-away container (container-lib.sh), installs moda-agent as `make install`
# does, and runs the checks named on the command line. Used by SystemdContainerTests; runnable by hand as
# root:
#
#   Tests/system/systemd-container.sh BIN_DIR clean-start
#
# BIN_DIR holds the built moda-agent and modactl. Exit 0: every check passed; 77: this machine cannot
# boot the container (skip); anything else: a check failed, with what was seen on stderr.
set -euo pipefail

bin_dir=$(realpath "$1"); shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=container-lib.sh
. "$repo/Tests/system/container-lib.sh"

container_prepare

# The install, as `make install` lays it out (paths of the shipped unit), written from outside.
install -m 0755 "$bin_dir/moda-agent" "$bin_dir/modactl" "$root/usr/local/bin/"
install -m 0644 "$repo/systemd/moda-agent.socket" "$repo/systemd/moda-agent.service" "$root/etc/systemd/system/"
mkdir -p "$root/etc/moda-agent"
sed -e 's|"listen": "127.0.0.1:[0-9]*"|"listen": null|g' "$repo/config.example.json" > "$root/etc/moda-agent/config.json"
printf 'container-test-key' > "$root/etc/moda-agent/api-key"
chmod 0600 "$root/etc/moda-agent/api-key"

container_boot

inside sh -c 'groupadd --system moda-agent && useradd --system --gid moda-agent --home-dir /var/lib/moda-agent \
    --no-create-home --shell /usr/sbin/nologin moda-agent && chgrp moda-agent /etc/moda-agent/config.json \
    && chmod 0640 /etc/moda-agent/config.json && systemctl daemon-reload' \
    || fail "could not create the service user"

# A clean start under the shipped unit: nothing at notice level or above from the daemon, and only its
# own start-up lines at all.
check_clean_start() {
    inside systemctl enable --now moda-agent.socket moda-agent.service >/dev/null 2>&1 || {
        inside systemctl status moda-agent --no-pager >&2 || true
        fail "the units did not start"
    }
    check_quiet_start
    echo "clean-start: ok ($quiet_start_summary)"
}

# The monitoring listener under the shipped sandbox (RestrictAddressFamilies= as shipped).
check_monitoring() {
    local port=$((20000 + $$ % 20000))
    inside sed -i "s|\"monitoring\": { \"listen\": null }|\"monitoring\": { \"listen\": \"127.0.0.1:$port\" }|" \
        /etc/moda-agent/config.json
    inside systemctl restart moda-agent.service || fail "restart with monitoring failed"
    local health=""
    for _ in $(seq 1 100); do
        health=$(inside curl -s --max-time 2 "http://127.0.0.1:$port/health" || true)
        [ -n "$health" ] && break
        sleep 0.1
    done
    case "$health" in
        '{"status":"ok"'*) ;;
        *) fail "GET /health under the unit answered '$health'" ;;
    esac
    # Asked again for up to 10 s: a clean-clone run with every suite at once once saw the first scrape
    # come back without the line while /health already answered.
    local metrics=""
    for _ in $(seq 1 50); do
        metrics=$(inside curl -s --max-time 5 "http://127.0.0.1:$port/metrics" || true)
        printf '%s\n' "$metrics" | grep -q '^moda_agent_build_info{version=' && break
        sleep 0.2
    done
    printf '%s\n' "$metrics" | grep -q '^moda_agent_build_info{version=' \
        || fail "GET /metrics under the unit lacks moda_agent_build_info (got ${#metrics} bytes: ${metrics:0:200})"
    echo "monitoring: ok ($health)"
}

# The HTTP receivers from a second socket unit (FileDescriptorName=http), with http.listen null: POST
# /v1/ingest and /v1/traces answered through the socket systemd passed.
check_http_socket() {
    local port=$((20000 + ($$ + 7919) % 20000))
    sed "s|^ListenStream=.*|ListenStream=127.0.0.1:$port|" "$repo/systemd/moda-agent-http.socket" \
        > "$root/etc/systemd/system/moda-agent-http.socket"
    inside systemctl daemon-reload || fail "daemon-reload failed"
    # systemd starts a socket only while its service is stopped (it refuses otherwise): as the unit says.
    inside systemctl stop moda-agent.service 2>/dev/null || fail "stop failed"
    inside systemctl enable --now moda-agent-http.socket >/dev/null 2>&1 || {
        inside systemctl status moda-agent-http.socket --no-pager >&2 || true
        fail "moda-agent-http.socket did not start"
    }
    inside systemctl start moda-agent.service || fail "start with the http socket failed"
    local ingest="" traces=""
    for _ in $(seq 1 100); do
        ingest=$(inside curl -s --max-time 2 -H 'Content-Type: application/json' \
            -d '{"events":[{"conversation_id":"c","role":"user","message":"m"}]}' "http://127.0.0.1:$port/v1/ingest" || true)
        [ -n "$ingest" ] && break
        sleep 0.1
    done
    case "$ingest" in
        '{"success":true,"count":1,'*) ;;
        *) fail "POST /v1/ingest through the http socket answered '$ingest'" ;;
    esac
    traces=$(inside curl -s --max-time 5 -H 'Content-Type: application/json' -d '{"resourceSpans":[]}' \
        "http://127.0.0.1:$port/v1/traces" || true)
    [ "$traces" = '{}' ] || fail "POST /v1/traces through the http socket answered '$traces'"
    echo "http-socket: ok"
}

for check in "$@"; do
    case "$check" in
        clean-start) check_clean_start ;;
        monitoring) check_monitoring ;;
        http-socket) check_http_socket ;;
        *) fail "unknown check $check" ;;
    esac
done
