#!/usr/bin/env python3
"""Writes hot-text.ld: the code sections a release moda-agent runs, in the order it first runs them.

Why: each page fault on the program's code maps the 64 KiB around it, so code run at start-up and at
idle that is spread over the whole program keeps most of it resident. The release build compiles
every function into its own section and links with hot-text.ld, which gathers the sections listed
here into one output section, `.text.hot`, ahead of the rest: the code an idle daemon touches then
sits in a few contiguous MiB. Sections are named per object file (private functions such as
`objectdestroy` closures have no symbol, so a symbol-ordering file cannot place them).

How: runs the given (unstripped) release binary under valgrind's lackey, which reports the address
of every superblock executed, through start-up with the HTTP receivers and metrics listening, one
connection sending a few events (and one bad line), one delivery to a local stand-in upstream, idle
and a clean stop; then maps each address to its input section through the linker's map file of
that same binary. `make hot-text` builds, links with -Map and runs this. Sections the source no
longer has are ignored by the linker; a stale list only costs resident memory (moda-bench's idle
figure shows it), never correctness.

usage: hot-text.py BINARY MAPFILE OUTPUT
"""

import bisect
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SECTION_LINE = re.compile(r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+(\S.*):\((\.text[^)]*)\)$")


def fail(message):
    print(f"hot-text: {message}", file=sys.stderr)
    sys.exit(1)


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    fail(f"timed out after {seconds} s waiting for {what}")


class Upstream(http.server.BaseHTTPRequestHandler):
    """Moda's success answer to every POST, so the trace covers a delivered batch."""

    posts = 0

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        body = json.dumps({"success": True, "count": 1, "requestId": "hot-text"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        Upstream.posts += 1

    def log_message(self, *args):
        pass


def can_connect(path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
        return True
    except OSError:
        return False


def trace(binary, work):
    """Addresses of the superblocks the daemon ran, first run first, and its load address."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    sock = os.path.join(work, "ingest.sock")
    config = {
        "endpoint": f"http://127.0.0.1:{upstream.server_address[1]}/v1/ingest",
        "socket": {"path": sock},
        "queue": {"path": os.path.join(work, "queue", "queue.db")},
        "batch": {"flushIntervalMs": 200},
        "delivery": {"drainTimeoutSeconds": 5},
        "http": {"listen": "127.0.0.1:0"},
        "monitoring": {"listen": "127.0.0.1:0"},
    }
    os.makedirs(os.path.join(work, "queue"))
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(config, f)
    # valgrind cannot read the toolchain's DWARF 5; the symbol table is all it needs.
    stripped = os.path.join(work, "moda-agent")
    shutil.copy(binary, stripped)
    subprocess.run(["strip", "--strip-debug", stripped], check=True)
    read_end, write_end = os.pipe()
    env = dict(os.environ, MODA_API_KEY="hot-text")
    for name in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "MODA_AGENT_CONFIG"):
        env.pop(name, None)
    log = open(os.path.join(work, "agent.log"), "w")
    agent = subprocess.Popen(
        ["valgrind", "--tool=lackey", "--trace-superblocks=yes", "--vex-guest-chase=no", f"--log-fd={write_end}",
         stripped, "--config", os.path.join(work, "config.json")],
        pass_fds=(write_end,), stdout=log, stderr=log, env=env)
    os.close(write_end)
    order, seen = [], set()

    def collect():
        with os.fdopen(read_end, "r", errors="replace") as lines:
            for line in lines:
                if line.startswith("SB "):
                    address = int(line[3:], 16)
                    if address not in seen:
                        seen.add(address)
                        order.append(address)

    reader = threading.Thread(target=collect)
    reader.start()
    try:
        wait_for(lambda: agent.poll() is None and can_connect(sock), 120, "the daemon's socket under valgrind")
        with open(f"/proc/{agent.pid}/maps") as maps:
            base = next((int(l.split("-")[0], 16) for l in maps
                         if l.rstrip().endswith(stripped) and l.split()[2] == "00000000"), None)
        if base is None:
            fail("the binary's mapping is not in the traced process")
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(sock)
            client.settimeout(60)
            events = [{"conversation_id": f"c{i}", "role": "user", "message": "hello"} for i in range(5)]
            lines = "".join(json.dumps(e) + "\n" for e in events) + "{not json\n"
            client.sendall(lines.encode())
            replies = b""
            while replies.count(b"\n") < 6:
                chunk = client.recv(4096)
                if not chunk:
                    fail(f"the daemon closed the connection after {replies!r}")
                replies += chunk
        wait_for(lambda: Upstream.posts > 0, 60, "a delivery to the stand-in upstream")
        time.sleep(3)  # idle: heartbeat and timers
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=120)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        reader.join(timeout=60)
        upstream.shutdown()
    return order, base


def sections(mapfile):
    rows = []
    with open(mapfile) as f:
        for line in f:
            m = SECTION_LINE.match(line.rstrip())
            if m:
                rows.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4)))
    rows.sort()
    return rows


def file_pattern(path):
    """A pattern for the object that survives another scratch folder or toolchain prefix."""
    member = re.match(r"(?:.*/)?([^/]+\.a)\((.*)\)$", path)
    if member:
        return f"*{member.group(1)}:{member.group(2)}"
    parts = path.split("/")
    return "*/" + "/".join(parts[-2:]) if len(parts) > 1 else path


def main():
    if len(sys.argv) != 4:
        fail("usage: hot-text.py BINARY MAPFILE OUTPUT")
    binary, mapfile, output = sys.argv[1:]
    if shutil.which("valgrind") is None:
        fail("needs valgrind (apt install valgrind)")
    rows = sections(mapfile)
    if not rows:
        fail(f"no .text input sections in {mapfile}: link with -Xlinker -Map={mapfile}")
    starts = [r[0] for r in rows]
    with tempfile.TemporaryDirectory(prefix="hot-text.") as work:
        addresses, base = trace(binary, work)
    picked, hit = [], set()
    for address in addresses:
        i = bisect.bisect_right(starts, address - base) - 1
        if i >= 0 and address - base < rows[i][0] + rows[i][1] and i not in hit:
            hit.add(i)
            picked.append(rows[i])
    if len(picked) < 1000:
        fail(f"only {len(picked)} sections traced: is {mapfile} the map of {binary}?")
    with open(output, "w") as out:
        out.write("/* Generated by `make hot-text` (packaging/link/hot-text.py): the code sections the daemon runs\n"
                  "   at start-up, idle, a first connection and a first delivery, first run first, gathered ahead\n"
                  "   of the rest of the program's code so that what it touches is a few contiguous MiB. */\n")
        out.write("SECTIONS {\n  .text.hot : {\n")
        for _, _, path, name in picked:
            out.write(f"    {file_pattern(path)}({name})\n")
        out.write("  }\n} INSERT BEFORE .text;\n")
    print(f"hot-text: {len(picked)} sections, {sum(r[1] for r in picked) / 1048576:.2f} MiB -> {output}")


if __name__ == "__main__":
    main()
