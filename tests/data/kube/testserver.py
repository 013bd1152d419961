#!/usr/bin/env python3
"""testserver.py -- a small HTTPS server for the HTTP client tests.

Makes a throw-away CA, a server certificate and a client certificate with
the openssl command line into --dir, listens on a free loopback port and
prints "PORT <n>" once it accepts connections. It exits when its standard
input closes, so it never outlives the test that started it.

Endpoints (HTTP/1.1; any method):
  /echo                 JSON: method, path, headers of interest, body, the
                        client certificate's CN ("" without one)
  /stream?n=N&ms=D&hold=1
                        chunked body, N watch-event lines, D ms apart; with
                        hold=1 the response then stays open (no more data)
                        until the client goes away
  /split                one event line sent in three pieces, 50 ms apart
  /slow?ms=D            answers after D ms
  /status?code=C&reason=R&retry=S
                        a metav1.Status error body with that code/reason
                        (and Retry-After: S when given)
  /big?bytes=N          N bytes of 'x'
  /kube/...             a tiny fake API server, see KubeState below
  /fake/...             a generic fake API server for any resource, with
                        fault injection, see FakeApi below
"""
import argparse
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    def ca(name):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=" + name, "-keyout", name + ".key",
                "-out", name + ".crt", cwd=d)

    def leaf(name, subj, ext):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", name + ".ext", "-out", name + ".crt", cwd=d)

    ca("ca")
    ca("other-ca")
    leaf("server", "/CN=kube-test-server",
         "subjectAltName=DNS:localhost,DNS:kube.test,IP:127.0.0.1\n"
         "extendedKeyUsage=serverAuth\n")
    leaf("client", "/CN=alice/O=devs", "extendedKeyUsage=clientAuth\n")


class KubeState:
    """Just enough of an API server for the client tests: ConfigMaps in
    memory, list with limit/continue, watch from a resourceVersion,
    server-side apply (create or merge data), delete with preconditions.
    A token "expired" gets 401, "readonly" gets 403 on writes."""

    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 100
        self.objs = {}      # (ns, name) -> obj
        self.events = []    # (rv, type, obj)
        self.requests = []  # (method, path, authorization)

    def bump(self, typ, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, typ, json.loads(json.dumps(obj))))
        self.lock.notify_all()


STATE = KubeState()
STALLS = {}  # /stall key -> requests seen
STALLS_LOCK = threading.Lock()


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch; returns the merged value."""
    if not isinstance(patch, dict):
        return json.loads(json.dumps(patch))
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class FakeApi:
    """Any namespaced or cluster-scoped resource under /fake/api/v1/... or
    /fake/apis/<group>/<version>/..., kept in memory: GET (object or list),
    POST (create, 409 AlreadyExists), PUT (update; 409 Conflict when
    metadata.resourceVersion is stale), PATCH (server-side apply: create or
    merge, the resourceVersion only moves when something changed; merge
    and strategic merge patches as JSON merge patches), DELETE (uid and
    resourceVersion preconditions: 409). Authentication is not checked.

    Control endpoints (GET, not recorded):
      /fake/_requests       every request so far: method, path (without
                            /fake), query (dict), ctype, body (parsed JSON
                            when it is JSON)
      /fake/_reset          forget objects, requests and faults
      /fake/_fault?method=M&path=P&code=C&reason=R&message=T&times=N&ms=D
                            the next N (-1: every) requests with method M
                            (or any) to path P (exact, or a prefix when it
                            ends with '*') wait D ms and, when C is given,
                            answer with a Status of code C instead
      /fake/_peek?path=P    the stored object at P (404 when none)
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.rv = 1000
        self.uid = 0
        self.objs = {}      # path -> object
        self.requests = []
        self.faults = []

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def fault_for(self, method, path):
        for f in self.faults:
            if f["method"] and f["method"] != method:
                continue
            p = f["path"]
            if not (path == p or (p.endswith("*") and
                                  path.startswith(p[:-1]))):
                continue
            if f["times"] == 0:
                continue
            if f["times"] > 0:
                f["times"] -= 1
            return dict(f)
        return None


FAKE = FakeApi()


def split_path(path):
    """('group/version' or 'v1', ns or '', resource, name or None, plural
    for messages) for an API path, or None."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "api":
        gv, group, rest = parts[1], "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        gv, group, rest = parts[1] + "/" + parts[2], parts[1], parts[3:]
    else:
        return None
    ns = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2:
        return None
    res = rest[0]
    return gv, ns, res, rest[1] if len(rest) > 1 else None, \
        res + ("." + group if group else "")


def status(code, reason, message, **details):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}
    if details:
        body["details"] = details
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, body, ctype="application/json", headers=()):
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def start_chunked(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def hold(self, limit):
        # Keep the response open without data until the client leaves.
        self.connection.settimeout(limit)
        try:
            self.connection.recv(1)
        except Exception:
            pass

    def handle_any(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        body = self.body()
        if u.path.startswith("/kube/"):
            return self.kube(u.path[5:], q, body)
        if u.path.startswith("/fake/"):
            return self.fake(u.path[5:], q, body)
        if u.path == "/echo":
            cert = self.connection.getpeercert() or {}
            cn = ""
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
            return self.send(200, {
                "method": self.command, "path": self.path,
                "authorization": self.headers.get("Authorization", ""),
                "content_type": self.headers.get("Content-Type", ""),
                "user_agent": self.headers.get("User-Agent", ""),
                "host": self.headers.get("Host", ""),
                "body": body.decode("utf-8", "replace"), "cn": cn})
        if u.path == "/stream":
            self.start_chunked()
            for i in range(int(q.get("n", "3"))):
                line = json.dumps({"type": "ADDED", "object": {"i": i}})
                self.chunk(line.encode() + b"\n")
                time.sleep(int(q.get("ms", "0")) / 1000.0)
            if q.get("hold"):
                return self.hold(30)
            self.wfile.write(b"0\r\n\r\n")
            return
        if u.path == "/split":
            self.start_chunked()
            for piece in (b'{"type":"MODI', b'FIED","object":{"a":', b'1}}\n'):
                self.chunk(piece)
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            return
        if u.path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            return self.send(200, {"slow": True})
        if u.path == "/stall":
            # The first request for a key sends half of its body and
            # then nothing for `hold` seconds; later ones send it whole.
            n, key = int(q.get("bytes", "100000")), q.get("key", "")
            with STALLS_LOCK:
                STALLS[key] = STALLS.get(key, 0) + 1
                first = STALLS[key] == 1
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            if not first:
                self.wfile.write(b"x" * n)
                return
            self.wfile.write(b"x" * (n // 2))
            self.wfile.flush()
            time.sleep(float(q.get("hold", "3")))
            self.close_connection = True
            return
        if u.path == "/stall/count":
            with STALLS_LOCK:
                return self.send(200, {"count": STALLS.get(q.get("key", ""),
                                                           0)})
        if u.path == "/status":
            code = int(q.get("code", "500"))
            hdrs = [("Retry-After", q["retry"])] if "retry" in q else []
            if "warning" in q:
                hdrs.append(("Warning", '299 - "%s"' % q["warning"]
                             .replace("\\", "\\\\").replace('"', '\\"')))
            return self.send(code, status(code, q.get("reason", ""),
                                          q.get("message", "it failed")),
                             headers=hdrs)
        if u.path == "/big":
            return self.send(200, b"x" * int(q.get("bytes", "0")),
                             ctype="text/plain")
        return self.send(404, status(404, "NotFound", "no such path"))

    # -- the fake API server ----------------------------------------------
    def kube(self, path, q, body):
        auth = self.headers.get("Authorization", "")
        with STATE.lock:
            STATE.requests.append((self.command, self.path, auth))
        if path == "/requests":
            with STATE.lock:
                return self.send(200, [list(r) for r in STATE.requests])
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if token == "expired" or (not token and
                                  not self.connection.getpeercert()):
            return self.send(401, status(401, "Unauthorized", "Unauthorized"))
        parts = path.strip("/").split("/")
        # api/v1/namespaces/<ns>/configmaps[/<name>]
        if parts[:3] != ["api", "v1", "namespaces"] or len(parts) < 5 or \
                parts[4] != "configmaps":
            return self.send(404, status(404, "NotFound", "the server could "
                                         "not find the requested resource"))
        ns = parts[3]
        name = parts[5] if len(parts) > 5 else None
        if self.command != "GET" and token == "readonly":
            return self.send(403, status(
                403, "Forbidden", 'configmaps "%s" is forbidden: User '
                '"readonly" cannot %s resource "configmaps" in API group "" '
                'in the namespace "%s"' % (name or "", self.command.lower(),
                                           ns),
                name=name or "", kind="configmaps"))
        if self.command == "GET" and name is None and q.get("watch"):
            return self.watch(ns, q)
        if self.command == "GET" and name is None:
            return self.list(ns, q)
        if self.command == "GET":
            with STATE.lock:
                o = STATE.objs.get((ns, name))
            if not o:
                return self.send(404, status(
                    404, "NotFound", 'configmaps "%s" not found' % name,
                    name=name, kind="configmaps"))
            return self.send(200, o)
        if self.command == "PATCH":
            if self.headers.get("Content-Type") != \
                    "application/apply-patch+yaml":
                return self.send(415, status(415, "UnsupportedMediaType",
                                             "bad patch type"))
            if q.get("fieldManager") != "smi-bridge":
                return self.send(422, status(422, "Invalid",
                                             "fieldManager is required"))
            patch = json.loads(body)
            with STATE.lock:
                o = STATE.objs.get((ns, name))
                if q.get("dryRun") == "All":
                    return self.send(200, patch)
                if o is None:
                    o = {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": ns,
                                      "uid": "uid-" + name}, "data": {}}
                    STATE.objs[(ns, name)] = o
                    o["data"].update(patch.get("data", {}))
                    STATE.bump("ADDED", o)
                elif {**o["data"], **patch.get("data", {})} != o["data"]:
                    o["data"].update(patch.get("data", {}))
                    STATE.bump("MODIFIED", o)
                return self.send(200, o)
        if self.command == "DELETE":
            opts = json.loads(body) if body else {}
            pre = opts.get("preconditions", {})
            with STATE.lock:
                o = STATE.objs.get((ns, name))
                if o is None:
                    return self.send(404, status(
                        404, "NotFound", 'configmaps "%s" not found' % name))
                if "uid" in pre and pre["uid"] != o["metadata"]["uid"]:
                    return self.send(409, status(
                        409, "Conflict", "Precondition failed: UID in "
                        "precondition: %s, UID in object meta: %s" %
                        (pre["uid"], o["metadata"]["uid"])))
                del STATE.objs[(ns, name)]
                STATE.bump("DELETED", o)
                return self.send(200, status(200, "", "")
                                 | {"status": "Success"})
        if self.command == "POST":
            o = json.loads(body)
            name = o["metadata"]["name"]
            with STATE.lock:
                if (ns, name) in STATE.objs:
                    return self.send(409, status(
                        409, "AlreadyExists",
                        'configmaps "%s" already exists' % name))
                o["metadata"].update({"namespace": ns, "uid": "uid-" + name})
                STATE.objs[(ns, name)] = o
                STATE.bump("ADDED", o)
                return self.send(201, o)
        if self.command == "PUT":
            o = json.loads(body)
            with STATE.lock:
                cur = STATE.objs.get((ns, name))
                if cur is None:
                    return self.send(404, status(404, "NotFound", "gone"))
                if o["metadata"].get("resourceVersion") != \
                        cur["metadata"]["resourceVersion"]:
                    return self.send(409, status(
                        409, "Conflict", "the object has been modified"))
                o["metadata"]["uid"] = cur["metadata"]["uid"]
                STATE.objs[(ns, name)] = o
                STATE.bump("MODIFIED", o)
                return self.send(200, o)
        return self.send(405, status(405, "MethodNotAllowed", "no"))

    # -- the generic fake API server ------------------------------------
    def fake(self, path, q, body):
        if path.startswith("/_"):
            return self.fake_control(path, q)
        ctype = self.headers.get("Content-Type", "")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        with FAKE.lock:
            FAKE.requests.append({"method": self.command, "path": path,
                                  "query": q, "ctype": ctype,
                                  "body": parsed})
            fault = FAKE.fault_for(self.command, path)
        if fault:
            if fault["ms"]:
                time.sleep(fault["ms"] / 1000.0)
            if fault["code"]:
                hdrs = [("Retry-After", fault["retry"])] \
                    if fault["retry"] else []
                return self.send(fault["code"], status(
                    fault["code"], fault["reason"], fault["message"]),
                    headers=hdrs)
        where = split_path(path)
        if not where:
            return self.send(404, status(404, "NotFound", "the server could "
                                         "not find the requested resource"))
        gv, ns, res, name, plural = where
        with FAKE.lock:
            return self.fake_verb(path, gv, ns, res, name, plural, q,
                                  parsed, ctype)

    def fake_control(self, path, q):
        with FAKE.lock:
            if path == "/_requests":
                return self.send(200, FAKE.requests)
            if path == "/_reset":
                FAKE.reset()
                return self.send(200, {})
            if path == "/_fault":
                FAKE.faults.append({
                    "method": q.get("method", ""), "path": q.get("path", ""),
                    "code": int(q.get("code", "0")),
                    "reason": q.get("reason", ""),
                    "message": q.get("message", "injected failure"),
                    "times": int(q.get("times", "1")),
                    "ms": int(q.get("ms", "0")),
                    "retry": q.get("retry", "")})
                return self.send(200, {})
            if path == "/_peek":
                o = FAKE.objs.get(q.get("path", ""))
                if o is None:
                    return self.send(404, status(404, "NotFound", "none"))
                return self.send(200, o)
        return self.send(404, status(404, "NotFound", "no such control"))

    def fake_verb(self, path, gv, ns, res, name, plural, q, obj, ctype):
        cur = FAKE.objs.get(path) if name else None
        if self.command == "GET" and name is None:
            prefix = path.rstrip("/") + "/"
            items = [o for p, o in sorted(FAKE.objs.items())
                     if p.startswith(prefix) and "/" not in p[len(prefix):]]
            return self.send(200, {"kind": "List", "apiVersion": gv,
                                   "metadata": {"resourceVersion":
                                                str(FAKE.rv)},
                                   "items": items})
        if self.command in ("GET", "PUT", "DELETE") and name is None:
            return self.send(405, status(405, "MethodNotAllowed", "no"))
        if self.command != "POST" and name is None:
            return self.send(405, status(405, "MethodNotAllowed", "no"))
        notfound = status(404, "NotFound", '%s "%s" not found' %
                          (plural, name), name=name, kind=res)
        if self.command == "GET":
            return self.send(200, cur) if cur else self.send(404, notfound)
        if self.command == "POST":
            if not isinstance(obj, dict) or \
                    not obj.get("metadata", {}).get("name"):
                return self.send(422, status(422, "Invalid",
                                             "metadata.name: Required"))
            name = obj["metadata"]["name"]
            path = path.rstrip("/") + "/" + name
            if path in FAKE.objs:
                return self.send(409, status(
                    409, "AlreadyExists", '%s "%s" already exists' %
                    (plural, name), name=name, kind=res))
            return self.send(201, self.fake_store(path, obj, ns, None))
        if self.command == "PUT":
            if cur is None:
                return self.send(404, notfound)
            rv = obj.get("metadata", {}).get("resourceVersion")
            if rv and rv != cur["metadata"]["resourceVersion"]:
                return self.send(409, status(
                    409, "Conflict", 'Operation cannot be fulfilled on %s '
                    '"%s": the object has been modified; please apply your '
                    'changes to the latest version and try again' %
                    (plural, name), name=name, kind=res))
            return self.send(200, self.fake_store(path, obj, ns, cur))
        if self.command == "PATCH":
            if ctype == "application/apply-patch+yaml":
                if q.get("fieldManager") != "smi-bridge" or \
                        q.get("force") != "true":
                    return self.send(422, status(
                        422, "Invalid", "fieldManager and force expected"))
                if cur is None:
                    return self.send(201, self.fake_store(path, obj, ns,
                                                          None))
                merged = merge_patch(cur, obj)
                if merged == cur:
                    return self.send(200, cur)
                return self.send(200, self.fake_store(path, merged, ns, cur))
            if ctype in ("application/merge-patch+json",
                         "application/strategic-merge-patch+json"):
                if cur is None:
                    return self.send(404, notfound)
                return self.send(200, self.fake_store(
                    path, merge_patch(cur, obj), ns, cur))
            return self.send(415, status(415, "UnsupportedMediaType",
                                         "bad patch type"))
        if self.command == "DELETE":
            if cur is None:
                return self.send(404, notfound)
            pre = (obj or {}).get("preconditions", {})
            meta = cur["metadata"]
            # The real API server's wording (k8s.io/apiserver storage).
            if "uid" in pre and pre["uid"] != meta["uid"]:
                return self.send(409, status(
                    409, "Conflict", 'Operation cannot be fulfilled on %s '
                    '"%s": the UID in the precondition (%s) does not match '
                    'the UID in record (%s). The object might have been '
                    'deleted and then recreated' %
                    (plural, name, pre["uid"], meta["uid"]),
                    name=name, kind=res))
            if "resourceVersion" in pre and \
                    pre["resourceVersion"] != meta["resourceVersion"]:
                return self.send(409, status(
                    409, "Conflict", 'Operation cannot be fulfilled on %s '
                    '"%s": the ResourceVersion in the precondition (%s) '
                    'does not match the ResourceVersion in record (%s). The '
                    'object might have been modified' %
                    (plural, name, pre["resourceVersion"],
                     meta["resourceVersion"]), name=name, kind=res))
            del FAKE.objs[path]
            return self.send(200, cur)
        return self.send(405, status(405, "MethodNotAllowed", "no"))

    def fake_store(self, path, obj, ns, cur):
        o = json.loads(json.dumps(obj))
        meta = o.setdefault("metadata", {})
        if ns:
            meta["namespace"] = ns
        if cur is None:
            FAKE.uid += 1
            meta["uid"] = "uid-%d" % FAKE.uid
            meta["creationTimestamp"] = "2024-01-01T00:00:00Z"
        else:
            meta["uid"] = cur["metadata"]["uid"]
            meta["creationTimestamp"] = cur["metadata"]["creationTimestamp"]
        meta["resourceVersion"] = FAKE.next_rv()
        FAKE.objs[path] = o
        return o

    def list(self, ns, q):
        with STATE.lock:
            items = sorted((o for (n, _), o in STATE.objs.items() if n == ns),
                           key=lambda o: o["metadata"]["name"])
            rv = STATE.rv
        start = int(q.get("continue") or 0)
        limit = int(q.get("limit") or 0) or len(items)
        page = items[start:start + limit]
        meta = {"resourceVersion": str(rv)}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        self.send(200, {"kind": "ConfigMapList", "apiVersion": "v1",
                        "metadata": meta, "items": page})

    def watch(self, ns, q):
        rv = int(q.get("resourceVersion") or 0)
        if rv and rv < 100:
            self.start_chunked()
            e = {"type": "ERROR", "object": status(
                410, "Expired", "too old resource version: %d (100)" % rv)}
            self.chunk(json.dumps(e).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.start_chunked()
        end = time.time() + int(q.get("timeoutSeconds") or 30)
        self.connection.settimeout(0.05)
        while time.time() < end:
            with STATE.lock:
                evs = [e for e in STATE.events if e[0] > rv and
                       e[2]["metadata"]["namespace"] == ns]
                if not evs:
                    STATE.lock.wait(0.05)
            for erv, typ, obj in evs:
                self.chunk(json.dumps({"type": typ, "object": obj}).encode()
                           + b"\n")
                rv = erv
            try:
                if self.connection.recv(1) == b"":
                    return  # client went away
            except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
                pass
            except OSError:
                return
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # failed handshakes are what some tests are about


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    make_pki(args.dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(args.dir, "server.crt"),
                        os.path.join(args.dir, "server.key"))
    ctx.load_verify_locations(os.path.join(args.dir, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    # The handshake happens in the handler's thread, on first read, so a
    # client that gives up mid-handshake never blocks accept().
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)

    def watch_stdin():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
