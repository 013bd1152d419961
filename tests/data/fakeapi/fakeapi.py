#!/usr/bin/env python3
"""fakeapi.py -- a scripted fake API server for the reflector and discovery
unit tests.

Plain HTTP (no TLS: what is under test is the protocol logic, the client's
TLS has its own tests) on a free loopback port. Prints "PORT <n>" once it
accepts connections and exits when its standard input closes, so it never
outlives the test that started it.

Control endpoints (under /_/):
  POST /_/script     {"<path>": [step, ...], ...}: what each path answers,
                     request by request, in order. Replaces the previous
                     script and clears the request log.
  POST /_/discovery  a compact discovery fixture (see expand_discovery),
                     or ?file=NAME to load tests/data/discovery/NAME.
  GET  /_/requests   the log: [{"method", "path", "query", "t_ms",
                     "watch", "left", "error"}, ...] ("left": steps still
                     queued for that path after this one)

Every other request is logged and answered by the next step for its path
(the path without the query). A step:
  {"expect": "list"|"watch"|"get",  checked against the request; a
                                    mismatch answers 500 and is logged
   "delay_ms": N,                   wait before answering
   "status": C, "headers": {...}, "body": {...}    a plain response
   "events": [ev, ...], "gap_ms": N,               a watch stream, then
   "then": "end"|"hold"|"drop"}                    end it normally, keep it
                                                   open until the client
                                                   leaves, or cut the
                                                   connection mid-stream
When a path has no steps left, the request is held (no answer) until the
client goes away; a path with no script at all gets a 404 Status, as
does anything a discovery fixture does not list.

Shorthands keep the scripts in the C tests short (see expand_step): a
list step may give "items": ["name", ...] (ConfigMaps, without kind and
apiVersion like the real server's list items), "rv", "continue" and
"bad_item": i (item i is sent as text that is not JSON, the rest of the
page intact: only a client that parses items one by one sees the ones
before it); an
error step "status" and "message" (the body becomes a Status with the
usual reason); an event may be ["ADDED"|"MODIFIED"|"DELETED", name, rv],
["BOOKMARK", rv], ["END", rv] (the bookmark that ends a streaming
list's initial events: annotated k8s.io/initial-events-end) or
["ERROR", code]. Test scripts are written with single
quotes, which the C side turns into double quotes.
"""
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
DISCOVERY_DIR = os.path.join(HERE, "..", "discovery")
T0 = time.monotonic()


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.script = {}
        self.docs = {}
        self.requests = []


STATE = State()


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}


REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound",
           410: "Expired", 422: "Invalid", 429: "TooManyRequests",
           500: "InternalError",
           503: "ServiceUnavailable"}


def configmap(name, rv=None):
    meta = {"name": name, "namespace": "t", "uid": "uid-" + name}
    if rv:
        meta["resourceVersion"] = rv
    return {"metadata": meta, "data": {"k": name}}


def expand_event(ev):
    if isinstance(ev, dict):
        return ev
    if ev[0] in ("BOOKMARK", "END"):
        meta = {"resourceVersion": ev[1]}
        if ev[0] == "END":
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"type": "BOOKMARK", "object": {
            "kind": "ConfigMap", "apiVersion": "v1", "metadata": meta}}
    if ev[0] == "ERROR":
        return {"type": "ERROR", "object": status(
            ev[1], REASONS.get(ev[1], ""),
            "too old resource version: 1 (2)" if ev[1] == 410 else "error")}
    obj = configmap(ev[1], ev[2])
    obj.update({"kind": "ConfigMap", "apiVersion": "v1"})
    return {"type": ev[0], "object": obj}


def expand_step(st):
    st = dict(st)
    if "items" in st:
        meta = {"resourceVersion": st.pop("rv", "")}
        if st.get("continue"):
            meta["continue"] = st.pop("continue")
        st["body"] = {"kind": "ConfigMapList", "apiVersion": "v1",
                      "metadata": meta,
                      "items": [configmap(n, meta["resourceVersion"])
                                for n in st.pop("items")]}
        if "bad_item" in st:
            st["body"]["items"][st.pop("bad_item")] = "__BAD__"
            st["body"] = json.dumps(st["body"]).replace(
                '"__BAD__"', '{"metadata": nope}')
    elif st.get("status", 200) >= 400 and "body" not in st:
        code = st["status"]
        st["body"] = status(code, REASONS.get(code, ""),
                            st.pop("message", "fake failure %d" % code))
    if "events" in st:
        st["events"] = [expand_event(e) for e in st["events"]]
    return st


def expand_discovery(fx):
    """{"groups": {"g": {"v1": [["plural", "Kind"], ...], ...}},
        "preferred": {"g": "v1"}, "status": {"/apis/g/v": code}}
    -> the /apis APIGroupList and one APIResourceList per group version
    (each resource also gets its "<plural>/status" subresource, as CRDs
    with a status subresource do). "status" makes a path fail with that
    code instead."""
    docs = {}
    groups = []
    for g, versions in fx.get("groups", {}).items():
        vs = [{"groupVersion": "%s/%s" % (g, v), "version": v}
              for v in versions]
        pref = fx.get("preferred", {}).get(g, next(iter(versions)))
        groups.append({"name": g, "versions": vs, "preferredVersion": {
            "groupVersion": "%s/%s" % (g, pref), "version": pref}})
        for v, resources in versions.items():
            res = []
            for plural, kind in resources:
                res.append({"name": plural, "singularName": kind.lower(),
                            "namespaced": True, "kind": kind,
                            "verbs": ["get", "list", "watch"]})
                res.append({"name": plural + "/status", "singularName": "",
                            "namespaced": True, "kind": kind,
                            "verbs": ["get", "patch", "update"]})
            docs["/apis/%s/%s" % (g, v)] = (200, {
                "kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": "%s/%s" % (g, v), "resources": res})
    docs["/apis"] = (200, {"kind": "APIGroupList", "apiVersion": "v1",
                           "groups": groups})
    for path, code in fx.get("status", {}).items():
        docs[path] = (code, status(code, "", "fake failure %d" % code))
    return docs


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, body, headers=None):
        # A str body is sent as it is (a broken page); anything else as JSON.
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def hold(self, limit=60):
        """Waits until the client closes the connection (or limit s)."""
        end = time.monotonic() + limit
        self.connection.settimeout(0.05)
        while time.monotonic() < end:
            try:
                if self.connection.recv(1) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        self.close_connection = True

    def control(self, u, q):
        body = self.read_body()
        if u.path == "/_/script":
            with STATE.lock:
                STATE.script = {p: [expand_step(x) for x in s]
                                for p, s in json.loads(body).items()}
                STATE.requests = []
            return self.send(200, {"ok": True})
        if u.path == "/_/discovery":
            if "file" in q:
                with open(os.path.join(DISCOVERY_DIR, q["file"])) as f:
                    fx = json.load(f)
            else:
                fx = json.loads(body)
            with STATE.lock:
                STATE.docs = expand_discovery(fx)
                STATE.requests = []
            return self.send(200, {"ok": True})
        if u.path == "/_/requests":
            with STATE.lock:
                return self.send(200, STATE.requests)
        return self.send(404, status(404, "NotFound", "no such control"))

    def handle_any(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path.startswith("/_/"):
            return self.control(u, q)
        self.read_body()
        watch = q.get("watch") == "true"
        entry = {"method": self.command, "path": u.path, "query": q,
                 "t_ms": (time.monotonic() - T0) * 1000.0, "watch": watch,
                 "left": None, "error": None}
        with STATE.lock:
            STATE.requests.append(entry)
            if u.path in STATE.docs:
                code, doc = STATE.docs[u.path]
                return self.send(code, doc)
            steps = STATE.script.get(u.path)
            step = steps.pop(0) if steps else None
            if steps is not None:
                entry["left"] = len(steps)
        if steps is None:
            return self.send(404, status(
                404, "NotFound",
                "the server could not find the requested resource"))
        if step is None:
            return self.hold()
        want = step.get("expect")
        got = "watch" if watch else "list" if self.command == "GET" else \
            self.command.lower()
        if want and want != got and not (want == "get" and got == "list"):
            entry["error"] = "expected %s, got %s" % (want, got)
            return self.send(500, status(500, "InternalError",
                                         "fake: " + entry["error"]))
        if step.get("delay_ms"):
            time.sleep(step["delay_ms"] / 1000.0)
        if "events" not in step:
            return self.send(step.get("status", 200), step.get("body", {}),
                             step.get("headers"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i, ev in enumerate(step["events"]):
                if i and step.get("gap_ms"):
                    time.sleep(step["gap_ms"] / 1000.0)
                self.chunk(json.dumps(ev).encode() + b"\n")
            then = step.get("then", "end")
            if then == "end":
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            elif then == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.hold()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that go away mid-response are part of the tests


def main():
    srv = Server(("127.0.0.1", 0), Handler)

    def watch_stdin():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
