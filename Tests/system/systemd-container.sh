#!/usr/bin/env bash
# Boots a real systemd in a throw-away container (this machine's own tree as an overlay with a tmpfs
# upper layer, so nothing lands on the host), installs moda-agent as `make install` does, and runs the
# checks named on the command line. Used by SystemdContainerTests; runnable by hand as root:
#
#   Tests/system/systemd-container.sh BIN_DIR clean-start
#
# BIN_DIR holds the built moda-agent and modactl. Exit 0: every check passed; 77: this machine cannot
# boot the container (skip); anything else: a check failed, with what was seen on stderr.
set -euo pipefail

bin_dir=$(realpath "$1"); shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (mounts an overlay and boots a container)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (apt-get install systemd-container)"

top=$(mktemp -d /tmp/moda-systemd.XXXXXX)
machine="moda-test-$$"
nspawn_pid=""
container_pid=""
cleanup() {
    if [ -n "$container_pid" ]; then kill -RTMIN+4 "$container_pid" 2>/dev/null || true; fi
    if [ -n "$nspawn_pid" ]; then
        for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    umount "$top/merged" 2>/dev/null || true
    umount "$top" 2>/dev/null || true
    rmdir "$top" 2>/dev/null || true
}
trap cleanup EXIT

mount -t tmpfs -o size=2G tmpfs "$top" || skip "cannot mount a tmpfs"
mkdir "$top/upper" "$top/work" "$top/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/merged" \
    || skip "cannot mount an overlay of /"
root="$top/merged"

# The install, as `make install` lays it out (paths of the shipped unit), written from outside.
install -m 0755 "$bin_dir/moda-agent" "$bin_dir/modactl" "$root/usr/local/bin/"
install -m 0644 "$repo/systemd/moda-agent.socket" "$repo/systemd/moda-agent.service" "$root/etc/systemd/system/"
mkdir -p "$root/etc/moda-agent"
sed -e 's|"listen": "127.0.0.1:[0-9]*"|"listen": null|g' "$repo/config.example.json" > "$root/etc/moda-agent/config.json"
printf 'container-test-key' > "$root/etc/moda-agent/api-key"
chmod 0600 "$root/etc/moda-agent/api-key"

# Booting to basic.target keeps whatever services this machine has installed (databases, web servers) from
# starting.
systemd-nspawn -q -D "$root" -b --register=no --keep-unit --console=passive --machine="$machine" \
    -- systemd.unit=basic.target >"$top/nspawn.log" 2>&1 &
nspawn_pid=$!
for _ in $(seq 1 100); do
    container_pid=$(pgrep -P "$nspawn_pid" | head -1 || true)
    # The child is systemd-nspawn's own helper until it execs the container's systemd.
    [ -n "$container_pid" ] && [ "$(cat "/proc/$container_pid/comm" 2>/dev/null)" = systemd ] && break
    container_pid=""
    sleep 0.1
done
[ -n "$container_pid" ] || skip "systemd-nspawn did not start a container: $(cat "$top/nspawn.log")"
inside() { nsenter -t "$container_pid" -a "$@"; }
state=""
for _ in $(seq 1 120); do
    # Until systemd's own bus is up, systemctl cannot even ask.
    state=$(timeout 60 nsenter -t "$container_pid" -a systemctl is-system-running --wait 2>&1 || true)
    case "$state" in
        running | degraded) break ;;
    esac
    sleep 0.25
done
case "$state" in
    running | degraded) ;;
    *) skip "systemd in the container did not come up (state '$state')" ;;
esac

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
    for _ in $(seq 1 100); do
        [ "$(inside systemctl show -p StatusText --value moda-agent)" = "queued 0 events, delivery idle" ] && break
        sleep 0.1
    done
    local status
    status=$(inside systemctl show -p StatusText --value moda-agent)
    [ "$status" = "queued 0 events, delivery idle" ] || fail "STATUS= after start was '$status'"
    local loud
    loud=$(inside journalctl -u moda-agent.service _COMM=moda-agent -p notice --no-pager -o cat)
    [ -z "$loud" ] || fail "a clean start logged at notice level or above:
$loud"
    # Dispatch's thread-priority line is allowed (at info) only where LimitNICE= could not be applied.
    local pid limit allowed='^$' opened='^$'
    pid=$(inside systemctl show -p MainPID --value moda-agent)
    limit=$(inside awk '/Max nice priority/ {print $4}' "/proc/$pid/limits")
    if [ "$limit" != 24 ]; then
        allowed='^Failed to set thread priority for worker thread: pqc=0x[0-9a-f]* errno=13$'
        opened='^=== log file opened for moda-agent\[[0-9]*\] at [0-9.]* ===$'
    fi
    local lines unexpected
    lines=$(inside journalctl -u moda-agent.service _COMM=moda-agent --no-pager -o cat)
    unexpected=$(printf '%s\n' "$lines" | grep -v -e '^listening on the socket systemd passed$' \
        -e '^moda-agent started$' -e '^$' -e "$allowed" -e "$opened" || true)
    [ -z "$unexpected" ] || fail "a clean start logged more than the daemon's start-up lines:
$unexpected"
    echo "clean-start: ok ($(printf '%s\n' "$lines" | wc -l) lines, none at notice or above; RLIMIT_NICE $limit)"
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
    inside curl -s --max-time 2 "http://127.0.0.1:$port/metrics" | grep -q '^moda_agent_build_info{version=' \
        || fail "GET /metrics under the unit lacks moda_agent_build_info"
    echo "monitoring: ok ($health)"
}

for check in "$@"; do
    case "$check" in
        clean-start) check_clean_start ;;
        monitoring) check_monitoring ;;
        *) fail "unknown check $check" ;;
    esac
done
