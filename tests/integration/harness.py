"""Shared helpers for smi-bridge's integration tests.

Each integration test is a standalone Python 3 script (standard library
only) run by CTest against the control plane that tests/testenv/testenv
started; its exit status is the result. The fixture passes everything
through the environment:

  KUBECONFIG      admin kubeconfig of the test control plane
  KUBECACHEDIR    kubectl's discovery cache, inside the state directory
  PATH            starts with the directory holding the matching kubectl
  SB_TESTENV_DIR  the instance's state directory (docs/testing.md)
  SB_TESTENV      path of the tests/testenv/testenv script
  SB_SOURCE_DIR   the source tree
  SB_SMI_BRIDGE   the smi-bridge binary under test

Typical use:

  import harness as h

  def main():
      with h.namespace() as ns:
          h.apply(MANIFEST, ns)
          obj = h.get("trafficsplits.v1alpha4.split.smi-spec.io", "x", ns)
          h.expect_eq(obj["spec"]["service"], "web", "spec.service")

  h.run(main)

Failures raise TestFailure with one clear message; run() prints it and
exits 1.
"""

import json
import os
import random
import re
import string
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager

SOURCE_DIR = os.environ.get("SB_SOURCE_DIR", "")
SMI_BRIDGE = os.environ.get("SB_SMI_BRIDGE", "")
TESTENV = os.environ.get("SB_TESTENV", "")
TESTENV_DIR = os.environ.get("SB_TESTENV_DIR", "")


class TestFailure(Exception):
    """A check failed; the message says what and why."""


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def expect_eq(actual, expected, what):
    if actual != expected:
        fail("%s: expected %s, got %s" % (what, json.dumps(expected),
                                          json.dumps(actual)))


def log(msg):
    print("  " + msg, flush=True)


def _tail(text, n=5):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])


def run_cmd(argv, input=None, check=True, timeout=60, env=None):
    """Runs argv and returns the CompletedProcess (text mode)."""
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        fail("%s: no answer within %ss" % (" ".join(argv), timeout))
    except FileNotFoundError:
        fail("%s: command not found" % argv[0])
    if check and p.returncode != 0:
        fail("%s failed (exit %d): %s" % (" ".join(argv[:4]), p.returncode,
                                          _tail(p.stderr or p.stdout)))
    return p


def kubectl(*args, input=None, check=True, timeout=60):
    """Runs the fixture's kubectl; raises TestFailure on a non-zero exit
    unless check=False."""
    if not os.environ.get("KUBECONFIG"):
        fail("KUBECONFIG is not set: run this test through ctest (or "
             "eval \"$(tests/testenv/testenv env)\" first)")
    return run_cmd(["kubectl"] + list(args), input=input, check=check,
                   timeout=timeout)


def _ns_args(namespace):
    return ["-n", namespace] if namespace else []


def apply(yaml_text, namespace=None, server_side=False, dry_run=None):
    """Applies YAML given as a string; returns kubectl's output."""
    args = ["apply", "-f", "-"] + _ns_args(namespace)
    if server_side:
        args += ["--server-side", "--field-manager", "smi-bridge-tests"]
    if dry_run:
        args += ["--dry-run=" + dry_run]
    return kubectl(*args, input=yaml_text).stdout


def create(yaml_text, namespace=None):
    return kubectl("create", "-f", "-", *_ns_args(namespace),
                   input=yaml_text).stdout


def expect_rejected(yaml_text, namespace=None, reason=None):
    """Applies YAML that the API server must refuse; returns its message.
    reason, when given, is a regex the message must contain."""
    p = kubectl("apply", "-f", "-", *_ns_args(namespace), input=yaml_text,
                check=False)
    if p.returncode == 0:
        fail("the API server accepted an object it should reject: %s"
             % _tail(p.stdout))
    if reason and not re.search(reason, p.stderr):
        fail("rejected, but not for the expected reason /%s/: %s"
             % (reason, _tail(p.stderr)))
    return p.stderr


def get(resource, name, namespace=None):
    """Returns the object as a dict. resource may name a version, as in
    trafficsplits.v1alpha1.split.smi-spec.io."""
    out = kubectl("get", resource, name, "-o", "json",
                  *_ns_args(namespace)).stdout
    return json.loads(out)


def exists(resource, name, namespace=None):
    p = kubectl("get", resource, name, "-o", "name", *_ns_args(namespace),
                check=False)
    if p.returncode == 0:
        return True
    if "NotFound" in p.stderr or "not found" in p.stderr:
        return False
    fail("kubectl get %s %s: %s" % (resource, name, _tail(p.stderr)))


def wait_for(fn, timeout=30, interval=0.2, what="condition"):
    """Calls fn until it returns something truthy; returns that value.
    Fails after timeout seconds, quoting the last value or error."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except TestFailure as e:
            last = str(e)
        if time.monotonic() >= deadline:
            fail("timed out after %ss waiting for %s (last: %s)"
                 % (timeout, what, last))
        time.sleep(interval)


def wait_condition(resource, name, condition, namespace=None, timeout=60):
    """kubectl wait --for=condition=<condition> on one object."""
    kubectl("wait", "--for=condition=" + condition, "--timeout=%ds" % timeout,
            resource, name, *_ns_args(namespace), timeout=timeout + 10)


def unique_name(prefix):
    """A DNS-1123 label: prefix plus a random suffix."""
    prefix = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:50]
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits)
                     for _ in range(6))
    return (prefix or "t") + "-" + suffix


def test_name():
    return os.path.splitext(os.path.basename(sys.argv[0]))[0]


@contextmanager
def namespace(prefix=None):
    """A fresh namespace for one test, with its default ServiceAccount (no
    controller-manager runs to create it). Deleted on exit without waiting:
    with no namespace controller deletion never finishes, but the
    namespace stops accepting new objects. SB_KEEP_NAMESPACES=1 keeps it
    for debugging."""
    ns = unique_name(prefix or test_name())
    kubectl("create", "namespace", ns)
    kubectl("create", "serviceaccount", "default", "-n", ns)
    try:
        yield ns
    finally:
        if not os.environ.get("SB_KEEP_NAMESPACES"):
            kubectl("delete", "namespace", ns, "--wait=false", check=False)


def instance():
    """The fixture instance's settings, read from its state directory's
    env file: KUBECONFIG, SB_TESTENV_API_URL, SB_TESTENV_ETCD_URL, ..."""
    check(TESTENV_DIR, "SB_TESTENV_DIR is not set")
    path = os.path.join(TESTENV_DIR, "env")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        fail("no control plane in %s: %s" % (TESTENV_DIR, e))
    return dict(re.findall(r"^export (\w+)='([^']*)'", text, re.M))


def testenv(*args, env=None, timeout=120):
    """Runs the testenv script (for tests of the control plane itself)."""
    check(TESTENV, "SB_TESTENV is not set")
    return run_cmd([TESTENV] + list(args), check=False, env=env,
                   timeout=timeout)


def run(main):
    """Runs a test's main(), prints PASS/FAIL and exits with the result."""
    name = test_name()
    try:
        main()
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        sys.exit(1)
    except Exception:  # a bug in the test itself is a failure too
        traceback.print_exc()
        print("FAIL %s: unexpected error" % name, flush=True)
        sys.exit(1)
    print("PASS %s" % name, flush=True)
    sys.exit(0)
