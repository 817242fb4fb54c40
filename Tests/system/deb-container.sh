#!/usr/bin/env bash
# The Debian package's life under a real systemd, as an operator meets it: boots a throw-away container
# (container-lib.sh), installs the package with apt, writes the key, and checks sending, delivery to a mock
# upstream on 127.0.0.1 (upstream-sink.py), reload, a crash, stop and socket activation, the sandbox's exposure,
# a quiet start, then an upgrade with events queued, removal and purge. Used by SystemdContainerTests; runnable
# by hand as root:
#
#   Tests/system/deb-container.sh dist/moda-agent_0.1.0_amd64.deb NEXT.deb
#
# NEXT.deb is the same package with a higher version (`make deb DEB_VERSION=...`). Prints "CHECK: ok (...)" per
# check. Exit 0: every check passed; 77: this machine cannot boot the container (skip); anything else: a check
# failed, with what was seen on stderr.
set -euo pipefail

package=$(realpath "$1")
next_package=$(realpath "$2")
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=container-lib.sh
. "$repo/Tests/system/container-lib.sh"
command -v python3 >/dev/null || skip "python3 is missing (the mock upstream)"

container_prepare

# The packages, where apt inside the container finds them (not /tmp: the container mounts its own).
mkdir -p "$root/var/cache/moda-test"
cp "$package" "$root/var/cache/moda-test/current.deb"
cp "$next_package" "$root/var/cache/moda-test/next.deb"

# A Docker-built tree carries a policy-rc.d that forbids maintainer scripts to start or stop anything (right while
# building an image); a booted host has none, and the package's unit handling is what is tested here.
rm -f "$root/usr/sbin/policy-rc.d"

sink="$top/sink"
mkdir "$sink"
python3 "$repo/Tests/system/upstream-sink.py" "$sink" 2>"$top/sink.log" &
sink_pid=$!
# SIGKILL: a test runner may start this script with SIGTERM blocked, and children inherit that.
container_cleanup_hook() { kill -KILL "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; }
wait_until test -s "$sink/port" || fail "the mock upstream did not start: $(cat "$top/sink.log")"
port=$(cat "$sink/port")

container_boot

apt_get() { inside env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"; }
as_user() { local user=$1; shift; inside setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }
# N events whose messages are PREFIX-1 ... PREFIX-N, one per line.
events() { for i in $(seq 1 "$2"); do printf '{"conversation_id":"c1","role":"user","message":"%s-%d"}\n' "$1" "$i"; done; }
# How many distinct messages starting with PREFIX- (sent with KEY, if given) reached the upstream.
delivered() {
    [ -e "$sink/received" ] || { echo 0; return; }
    python3 - "$sink/received" "$1" "${2:-}" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    record = json.loads(line)
    if sys.argv[3] and record["auth"] != "Bearer " + sys.argv[3]:
        continue
    seen.update(m for m in record["messages"] if m and m.startswith(sys.argv[2] + "-"))
print(len(seen))
PY
}
# Waits up to 60 s until COUNT messages PREFIX-* (with KEY) reached the upstream.
expect_delivered() {
    local prefix=$1 count=$2 key=${3:-}
    for _ in $(seq 1 600); do
        [ "$(delivered "$prefix" "$key")" -ge "$count" ] && return 0
        sleep 0.1
    done
    fail "$(delivered "$prefix" "$key") of $count events $prefix-* reached the upstream${key:+ with key $key}; status: $(inside modactl status 2>&1)"
}
send_as() {
    local user=$1 prefix=$2 count=$3 output
    output=$(events "$prefix" "$count" | as_user "$user" modactl send 2>&1) \
        || fail "modactl send as $user: $output"
    case "$output" in
        *"$count event"*" queued, 0 rejected"*) ;;
        *) fail "modactl send as $user said: $output" ;;
    esac
}
main_pid() { inside systemctl show -p MainPID --value moda-agent.service; }
queued() { inside modactl status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["queue"]["events"])'; }

check_install() {
    apt_get install "/var/cache/moda-test/current.deb" >"$top/install.log" 2>&1 \
        || fail "apt-get install failed: $(cat "$top/install.log")"
    grep -q "starts once it has the Moda API key" "$top/install.log" \
        || fail "the install did not tell the operator about the key: $(cat "$top/install.log")"
    inside getent passwd moda-agent >/dev/null || fail "no moda-agent user"
    inside getent group moda-agent >/dev/null || fail "no moda-agent group"
    local unit
    for unit in moda-agent.socket moda-agent.service; do
        [ "$(inside systemctl is-enabled "$unit")" = enabled ] || fail "$unit is not enabled"
    done
    # Without a key nothing is started, and nothing has failed.
    [ "$(inside systemctl is-failed moda-agent.service)" != failed ] || fail "moda-agent.service failed at install"
    [ "$(inside stat -c '%a %U:%G' /etc/moda-agent/config.json)" = "640 root:moda-agent" ] \
        || fail "config.json is $(inside stat -c '%a %U:%G' /etc/moda-agent/config.json)"
    [ "$(inside stat -c '%a %U:%G' /var/lib/moda-agent)" = "750 moda-agent:moda-agent" ] \
        || fail "the queue folder is $(inside stat -c '%a %U:%G' /var/lib/moda-agent)"
    local file
    for file in /usr/bin/moda-agent /usr/bin/modactl /usr/lib/systemd/system/moda-agent.service \
        /usr/lib/systemd/system/moda-agent.socket /usr/lib/sysusers.d/moda-agent.conf \
        /usr/share/man/man1/moda-agent.1.gz /usr/share/man/man1/modactl.1.gz \
        /usr/share/bash-completion/completions/modactl /usr/share/zsh/vendor-completions/_modactl \
        /usr/share/fish/vendor_completions.d/modactl.fish; do
        inside test -e "$file" || fail "$file is missing"
    done
    inside grep -q '^ExecStart=/usr/bin/moda-agent --config /etc/moda-agent/config.json$' \
        /usr/lib/systemd/system/moda-agent.service || fail "the installed unit does not run /usr/bin/moda-agent"
    echo "install: ok (user, group, units enabled, not started without a key; config 0640 root:moda-agent)"
}

# What the README tells the operator to do after the install, with the mock upstream as the endpoint.
check_key() {
    inside sed -i "s|\"endpoint\": \"[^\"]*\"|\"endpoint\": \"http://127.0.0.1:$port/v1/ingest\"|" \
        /etc/moda-agent/config.json
    printf 'key-one\n' | inside install -m 0600 /dev/stdin /etc/moda-agent/api-key
    inside systemctl start moda-agent.socket moda-agent.service || {
        inside systemctl status moda-agent --no-pager >&2 || true
        fail "the units did not start"
    }
    [ "$(inside systemctl is-active moda-agent.socket)" = active ] || fail "the socket is not active"
    check_quiet_start
    echo "key: ok (started; clean start: $quiet_start_summary)"
}

check_send() {
    inside useradd --create-home --groups moda-agent app
    inside useradd --create-home outsider
    send_as app app 3
    local output
    if output=$(events outsider 1 | as_user outsider modactl send 2>&1); then
        fail "a user outside the moda-agent group could send: $output"
    fi
    case "$output" in
        *"group moda-agent"*"usermod -aG moda-agent outsider"*) ;;
        *) fail "the refusal did not name the group: $output" ;;
    esac
    if output=$(events outsider 1 | as_user outsider modactl send --socket /run/moda-agent/ingest.sock 2>&1); then
        fail "a user outside the moda-agent group could send through --socket: $output"
    fi
    case "$output" in
        *moda-agent*usermod*) ;;
        *) fail "the refusal through --socket did not name the group: $output" ;;
    esac
    echo "send: ok (a member sends; an outsider is told: $(head -c 150 <<<"$output")...)"
}

check_deliver() {
    expect_delivered app 3 key-one
    inside modactl flush >/dev/null 2>&1 || true
    wait_until status_is "queued 0 events, delivery ok" \
        || fail "STATUS= after delivery was '$(status_text)'"
    local status
    status=$(inside systemctl status moda-agent.service --no-pager 2>&1 || true)
    grep -Eq 'Status: "queued 0 events, delivery ok("|;)' <<<"$status" \
        || fail "systemctl status shows no STATUS= line: $status"
    echo "deliver: ok (3 events upstream with the key; systemctl status: $(grep -o 'Status: .*' <<<"$status"))"
}

check_reload() {
    printf 'key-two\n' | inside install -m 0600 /dev/stdin /etc/moda-agent/api-key
    local pid
    pid=$(main_pid)
    inside systemctl reload moda-agent.service || fail "systemctl reload failed"
    [ "$(main_pid)" = "$pid" ] || fail "reload restarted the daemon"
    send_as app reload 1
    expect_delivered reload 1 key-two
    # The journal keeps the daemon's structured fields: the reload's key source, the logger, the code location.
    local fields
    fields=$(inside journalctl -u moda-agent.service API_KEY_SOURCE="systemd credential api-key" -o verbose --no-pager)
    grep -q 'MESSAGE=configuration reloaded' <<<"$fields" && grep -q 'LOGGER=moda-agent' <<<"$fields" \
        && grep -q 'CODE_FILE=' <<<"$fields" || fail "journalctl shows no structured reload entry: $fields"
    echo "reload: ok (same daemon, the new key upstream; journal fields API_KEY_SOURCE, LOGGER, CODE_FILE)"
}

check_sigkill() {
    touch "$sink/refuse"
    send_as app kill 20
    local pid restarts
    pid=$(main_pid)
    restarts=$(inside systemctl show -p NRestarts --value moda-agent.service)
    inside systemctl kill -s SIGKILL moda-agent.service
    for _ in $(seq 1 300); do
        [ "$(inside systemctl show -p NRestarts --value moda-agent.service)" -gt "$restarts" ] \
            && [ "$(inside systemctl is-active moda-agent.service)" = active ] && break
        sleep 0.1
    done
    [ "$(inside systemctl is-active moda-agent.service)" = active ] && [ "$(main_pid)" != "$pid" ] \
        || fail "no restart after SIGKILL: $(inside systemctl status moda-agent --no-pager 2>&1)"
    rm "$sink/refuse"
    inside modactl flush >/dev/null
    expect_delivered kill 20
    echo "sigkill: ok (restarted by systemd; all 20 acknowledged events delivered once the upstream took them)"
}

check_stop() {
    send_as app stop 10
    # (systemctl warns that the socket can still start it: that is the point.)
    inside systemctl stop moda-agent.service 2>/dev/null
    [ "$(delivered stop)" = 10 ] || fail "systemctl stop returned with $(delivered stop) of 10 events delivered"
    [ "$(inside systemctl is-active moda-agent.socket)" = active ] || fail "the socket stopped with the service"
    send_as app wake 1
    # The event was acknowledged, so the daemon runs; systemd may still say "activating" until READY=1, which the
    # daemon sends once every part has started, a moment after the socket is served.
    local state=""
    for _ in $(seq 1 100); do
        state=$(inside systemctl is-active moda-agent.service)
        [ "$state" = active ] && break
        sleep 0.1
    done
    [ "$state" = active ] || fail "a write did not start the service (is-active: $state)"
    expect_delivered wake 1
    echo "stop: ok (drained 10 of 10 before stop returned; a later write started the service through the socket)"
}

check_security() {
    local report exposure
    report=$(inside systemd-analyze security moda-agent.service --no-pager 2>&1)
    exposure=$(sed -n 's/.*Overall exposure level for moda-agent.service: \([0-9.]*\).*/\1/p' <<<"$report")
    [ -n "$exposure" ] || fail "no exposure level in: $report"
    awk -v e="$exposure" 'BEGIN { exit !(e <= 1.5) }' || fail "exposure $exposure is above 1.5"
    echo "security: ok (exposure $exposure)"
}

check_upgrade() {
    touch "$sink/refuse"
    send_as app upgrade 10
    [ "$(queued)" -ge 10 ] || fail "the events did not stay queued before the upgrade"
    local pid
    pid=$(main_pid)
    apt_get install "/var/cache/moda-test/next.deb" >"$top/upgrade.log" 2>&1 \
        || fail "the upgrade failed: $(cat "$top/upgrade.log")"
    local version
    version=$(inside dpkg-query -W -f '${Version}' moda-agent)
    [ "$version" != "$(dpkg-deb -f "$package" Version)" ] || fail "still version $version after the upgrade"
    [ "$(inside systemctl is-active moda-agent.service)" = active ] && [ "$(main_pid)" != "$pid" ] \
        || fail "the upgrade did not restart the daemon: $(inside systemctl status moda-agent --no-pager 2>&1)"
    inside grep -q "127.0.0.1:$port" /etc/moda-agent/config.json || fail "the upgrade replaced the edited config"
    rm "$sink/refuse"
    inside modactl flush >/dev/null
    expect_delivered upgrade 10 key-two
    echo "upgrade: ok (to $version: restarted, config and key kept, the 10 queued events delivered)"
}

check_remove() {
    touch "$sink/refuse"
    send_as app removed 5
    apt_get remove moda-agent >"$top/remove.log" 2>&1 || fail "apt-get remove failed: $(cat "$top/remove.log")"
    local unit
    for unit in moda-agent.service moda-agent.socket; do
        [ "$(inside systemctl is-active "$unit")" != active ] || fail "$unit still runs after removal"
    done
    inside test ! -e /usr/bin/moda-agent || fail "the daemon is still installed"
    inside test -e /var/lib/moda-agent/queue.db || fail "removal deleted the queue"
    inside test -e /etc/moda-agent/api-key || fail "removal deleted the API key"
    grep -q "5 events waiting for delivery" "$top/remove.log" \
        || fail "removal did not say what stays queued: $(cat "$top/remove.log")"
    echo "remove: ok (stopped; queue with 5 events, config and key kept: $(grep -m1 'moda-agent: stopped' "$top/remove.log"))"
}

check_purge() {
    apt_get purge moda-agent >"$top/purge.log" 2>&1 || fail "apt-get purge failed: $(cat "$top/purge.log")"
    inside test ! -e /etc/moda-agent || fail "purge left /etc/moda-agent: $(inside ls -la /etc/moda-agent)"
    inside test -e /var/lib/moda-agent/queue.db || fail "purge deleted the queue"
    grep -q "Kept the queue in /var/lib/moda-agent" "$top/purge.log" \
        || fail "purge did not say where the queue is: $(cat "$top/purge.log")"
    inside test ! -e /etc/systemd/system/multi-user.target.wants/moda-agent.service \
        || fail "purge left the service enabled"
    echo "purge: ok (config and key gone, the queue kept and named)"
}

for check in install key send deliver reload sigkill stop security upgrade remove purge; do
    "check_$check"
done
