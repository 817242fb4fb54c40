"""A stand-in for the Moda ingest API on 127.0.0.1, for the container tests (the container shares the network).

    python3 upstream-sink.py DIR

Writes its port to DIR/port. Each POST /v1/ingest appends one line to DIR/received: the Authorization header
and the events' message fields, as JSON. While DIR/refuse exists it answers 503 (events stay queued).
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

folder = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if os.path.exists(os.path.join(folder, "refuse")):
            self.reply(503, {"error": "Service temporarily unavailable"})
            return
        events = json.loads(body).get("events", [])
        record = {"auth": self.headers.get("Authorization"), "messages": [e.get("message") for e in events]}
        with open(os.path.join(folder, "received"), "a") as received:
            received.write(json.dumps(record) + "\n")
        self.reply(200, {"success": True, "count": len(events), "requestId": "sink"})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(folder, "port.tmp"), "w") as port:
    port.write(str(server.server_address[1]))
os.rename(os.path.join(folder, "port.tmp"), os.path.join(folder, "port"))
server.serve_forever()
