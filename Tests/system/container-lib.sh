# Shared by the container test scripts (sourced, not run): boots a real systemd in a throw-away container,
# this machine's own tree as an overlay with a tmpfs upper layer, so nothing lands on the host.
#
#   container_prepare        mounts the overlay; sets $root (write files into it before booting)
#   container_boot           boots systemd in it, to basic.target, and waits until it runs
#   inside CMD...            runs CMD in the container (all namespaces)
#   check_quiet_start        the running moda-agent's start logged nothing at notice level or above
#
# A script exits 77 when this machine cannot boot the container (the test then skips), 1 when a check
# failed, with what was seen on stderr.

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# Waits up to about 10 s for a command to succeed.
wait_until() {
    local _
    for _ in $(seq 1 100); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

top=""
machine="moda-test-$$"
nspawn_pid=""
container_pid=""
# Scripts add their own clean-up (a mock upstream, say) by defining container_cleanup_hook.
container_cleanup() {
    if declare -F container_cleanup_hook >/dev/null; then container_cleanup_hook || true; fi
    if [ -n "$container_pid" ]; then kill -RTMIN+4 "$container_pid" 2>/dev/null || true; fi
    if [ -n "$nspawn_pid" ]; then
        for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    if [ -n "$top" ]; then
        umount "$top/merged" 2>/dev/null || true
        umount "$top" 2>/dev/null || true
        rmdir "$top" 2>/dev/null || true
    fi
}

container_prepare() {
    [ "$(id -u)" = 0 ] || skip "needs root (mounts an overlay and boots a container)"
    command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (apt-get install systemd-container)"
    top=$(mktemp -d /tmp/moda-systemd.XXXXXX)
    trap container_cleanup EXIT
    mount -t tmpfs -o size=2G tmpfs "$top" || skip "cannot mount a tmpfs"
    mkdir "$top/upper" "$top/work" "$top/merged"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/merged" \
        || skip "cannot mount an overlay of /"
    root="$top/merged"
}

container_boot() {
    # Booting to basic.target keeps whatever services this machine has installed (databases, web servers)
    # from starting.
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
    local state=""
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
}

inside() { nsenter -t "$container_pid" -a "$@"; }

status_text() { inside systemctl show -p StatusText --value moda-agent; }
# The events' part of STATUS=; with the HTTP receivers on, the trace exports' part follows it after "; ".
status_is() { local text; text=$(status_text); [ "$text" = "$1" ] || [ "${text%%;*}" = "$1" ]; }

# The current run of moda-agent.service (the one systemd started last) logged only its start-up lines,
# none at notice level or above. Prints a summary.
check_quiet_start() {
    local invocation
    invocation=$(inside systemctl show -p InvocationID --value moda-agent)
    [ -n "$invocation" ] || fail "moda-agent.service has not been started"
    wait_until status_is "queued 0 events, delivery idle" \
        || fail "STATUS= after start was '$(status_text)'"
    local loud
    loud=$(inside journalctl _SYSTEMD_INVOCATION_ID="$invocation" _COMM=moda-agent -p notice --no-pager -o cat)
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
    lines=$(inside journalctl _SYSTEMD_INVOCATION_ID="$invocation" _COMM=moda-agent --no-pager -o cat)
    # "monitoring": the listener's address, at info, where the config turns it on (the example config does).
    unexpected=$(printf '%s\n' "$lines" | grep -v -e '^listening on the socket systemd passed$' \
        -e '^moda-agent started$' -e '^monitoring$' -e '^HTTP receivers$' -e '^$' -e "$allowed" -e "$opened" || true)
    [ -z "$unexpected" ] || fail "a clean start logged more than the daemon's start-up lines:
$unexpected"
    quiet_start_summary="$(printf '%s\n' "$lines" | wc -l) lines, none at notice or above; RLIMIT_NICE $limit"
}
