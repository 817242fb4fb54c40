#!/usr/bin/env bash
# Runs the README's quick start as written: `make run` in the background (without MODA_API_KEY, as a new
# user would), then each command of the README's "In a second terminal" block, and checks what the README
# says they print. `make test` runs it last. Exit 0 when the README is true.
set -uo pipefail
cd "$(dirname "$0")/.."

section=$(awk '/^## Quick start/{on=1; next} /^## /{on=0} on' README.md)
block() { awk -v want="$1" '/^```sh/{n++; inside=1; next} /^```/{inside=0; next} inside && n==want' <<<"$section"; }
first_block=$(block 1)
second_block=$(block 2)
grep -q '^make run' <<<"$first_block" || { echo "quick start: no 'make run' in the README's first block"; exit 1; }
[ -n "$second_block" ] || { echo "quick start: no second command block in the README"; exit 1; }

log=$(mktemp)
rm -rf .run
env -u MODA_API_KEY setsid make run >"$log" 2>&1 &
runner=$!
stop() {
    kill -INT -- "-$runner" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$runner" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$runner" 2>/dev/null
}
trap stop EXIT

# make run builds first (nothing to do after make test's build), then the daemon creates its socket.
for _ in $(seq 1 1200); do
    [ -S .run/ingest.sock ] && break
    kill -0 "$runner" 2>/dev/null || { echo "quick start: make run exited:"; cat "$log"; exit 1; }
    sleep 0.5
done
[ -S .run/ingest.sock ] || { echo "quick start: no socket after 10 minutes:"; tail -20 "$log"; exit 1; }
grep -q 'MODA_API_KEY is not set' "$log" || { echo "quick start: make run did not say the key is missing"; exit 1; }

mapfile -t commands < <(grep -v '^$' <<<"$second_block")
[ "${#commands[@]}" = 2 ] || { echo "quick start: expected two commands (send, status)"; exit 1; }
failed=0
echo "\$ ${commands[0]}"
output=$(bash -c "${commands[0]}" 2>&1) || { echo "$output"; echo "quick start: the send failed"; exit 1; }
echo "$output"
grep -q 'sent 1 line: 1 event queued, 0 rejected' <<<"$output" \
    || { echo "quick start: the send did not print what the README says"; failed=1; }
# A person types the status command a moment later; the first attempt waits for batch.flushIntervalMs and
# the name lookup, so ask again for up to 30 s before calling the README wrong.
for _ in $(seq 1 60); do
    output=$(bash -c "${commands[1]}" 2>&1) || { echo "$output"; echo "quick start: status failed"; exit 1; }
    grep -Eq 'Delivery: (retrying|unauthorized)' <<<"$output" && break
    sleep 0.5
done
echo "\$ ${commands[1]}"
echo "$output"
grep -Eq 'Delivery: (retrying|unauthorized)' <<<"$output" \
    || { echo "quick start: status shows neither retrying nor unauthorized, as the README says"; failed=1; }
grep -q 'Queue: 1 event' <<<"$output" \
    || { echo "quick start: status does not show the event waiting in the queue"; failed=1; }

if [ "$failed" = 0 ]; then echo "quick start: the README's commands work as written"; fi
exit "$failed"
