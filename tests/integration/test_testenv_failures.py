#!/usr/bin/env python3
"""tests/testenv/testenv fails cleanly: each failure below prints one line
starting with "testenv:" that says what went wrong, exits non-zero, starts
or leaves no process, and costs seconds (nothing is built).

  - a second `up` in the directory of a running instance (the fixture's,
    which must keep working afterwards);
  - a fixed port that is already taken, for the API server (the fixture's
    own port) and for etcd (a socket this test holds);
  - kube-apiserver not ready in time (--timeout 0): the line is followed by
    the tail of its log;
  - no Go toolchain on PATH and nothing in the binary cache;
  - a Kubernetes or etcd version that does not exist, with an empty cache;
  - `env` without an instance; `down` is idempotent.
"""

import glob
import os
import re
import shutil
import socket
import tempfile
import time

import harness as h


def processes_for(path):
    """PIDs of processes whose command line mentions path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmd:
            found.append("%s: %s" % (pid, cmd[:120]))
    return found


def expect_failure(what, argv, pattern, env=None, tail_allowed=False,
                   leaves=None, limit=60):
    t0 = time.monotonic()
    p = h.testenv(*argv, env=env, timeout=limit + 30)
    took = time.monotonic() - t0
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    h.check(p.returncode != 0, "%s: exit status 0 (stdout: %s)"
            % (what, p.stdout.strip()))
    h.check(lines, "%s: no message on stderr" % what)
    first = lines[0]
    h.check(first.startswith("testenv: ") and re.search(pattern, first),
            "%s: expected one line matching /%s/, got: %s"
            % (what, pattern, first))
    if tail_allowed:
        h.check(len(lines) == 1 or lines[1].startswith("--- last lines"),
                "%s: unexpected extra output: %s" % (what, lines[1:]))
    else:
        h.check(len(lines) == 1, "%s: more than one line: %s" % (what, lines))
    h.check(p.stdout.strip() == "", "%s: printed to stdout: %s"
            % (what, p.stdout.strip()))
    h.check(took < limit, "%s: took %.1fs, not a fast failure" % (what, took))
    if leaves is not None:
        left = processes_for(leaves)
        h.check(not left, "%s: left processes running: %s" % (what, left))
        pids = glob.glob(os.path.join(leaves, "*.pid"))
        h.check(not pids, "%s: left pid files: %s" % (what, pids))
    h.log("%s -> %s (%.1fs)" % (what, first, took))


def path_without_go(scratch):
    """PATH with every directory that holds `go` replaced by a copy made of
    symlinks to everything else in it."""
    out = []
    for i, d in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        if d and os.access(os.path.join(d, "go"), os.X_OK):
            shadow = os.path.join(scratch, "path%d" % i)
            os.mkdir(shadow)
            for name in os.listdir(d):
                if name not in ("go", "gofmt"):
                    os.symlink(os.path.join(d, name),
                               os.path.join(shadow, name))
            d = shadow
        out.append(d)
    path = os.pathsep.join(out)
    h.check(shutil.which("go", path=path) is None, "go still on PATH")
    return path


def readyz():
    return h.kubectl("get", "--raw", "/readyz", check=False).stdout.strip()


def main():
    fixture = h.TESTENV_DIR
    h.check(fixture and os.path.isdir(fixture), "SB_TESTENV_DIR is not set")
    api_port = h.instance()["SB_TESTENV_API_URL"].rsplit(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="sb-testenv-") as scratch:
        state = os.path.join(scratch, "state")
        base = dict(os.environ)
        base.pop("SB_TESTENV_DIR", None)

        expect_failure("second up in a running instance's directory",
                       ["up", "--dir", fixture], r"already running in ")
        h.expect_eq(readyz(), "ok", "fixture /readyz after the second up")

        expect_failure("API server port taken",
                       ["up", "--dir", state, "--api-port", api_port],
                       r"port 127\.0\.0\.1:%s is already in use" % api_port,
                       leaves=state)

        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            port = str(held.getsockname()[1])
            expect_failure("etcd port taken",
                           ["up", "--dir", state, "--etcd-port", port],
                           r"port 127\.0\.0\.1:%s is already in use" % port,
                           leaves=state)

        expect_failure("kube-apiserver not ready in time",
                       ["up", "--dir", state, "--timeout", "0"],
                       r"kube-apiserver not ready after 0s", tail_allowed=True,
                       leaves=state)

        empty = os.path.join(scratch, "cache")
        os.mkdir(empty)
        nogo = dict(base, XDG_CACHE_HOME=empty,
                    PATH=path_without_go(scratch))
        expect_failure("build without Go", ["build"],
                       r"no Go toolchain on PATH", env=nogo, limit=10)
        expect_failure("up without Go", ["up", "--dir", state],
                       r"no Go toolchain on PATH", env=nogo, leaves=state,
                       limit=10)

        expect_failure("nonexistent Kubernetes version", ["build"],
                       r"build failed fetching Kubernetes v1\.999\.0",
                       env=dict(base, XDG_CACHE_HOME=empty,
                                SB_TESTENV_KUBE_VERSION="v1.999.0"))
        expect_failure("nonexistent etcd version", ["build"],
                       r"build failed fetching etcd v3\.6\.999",
                       env=dict(base, XDG_CACHE_HOME=empty,
                                SB_TESTENV_ETCD_VERSION="v3.6.999"))
        built = [os.path.join(r, f) for r, _, fs in os.walk(empty)
                 for f in fs if "/bin/" in os.path.join(r, f)]
        h.check(not built, "a failed build left binaries: %s" % built)

        expect_failure("env without an instance", ["env", "--dir", state],
                       r"no control plane in ")
        for _ in range(2):
            p = h.testenv("down", "--dir", state)
            h.expect_eq(p.returncode, 0, "down of a stopped instance")
        h.check(not processes_for(scratch), "processes left in " + scratch)
    h.expect_eq(readyz(), "ok", "fixture /readyz at the end")


h.run(main)
