#!/usr/bin/env python3
"""Every expected translation output in tests/golden/<case>/ is accepted by
the real API server with its Istio, Linkerd and Gateway API CRDs.

The golden suite proves smi-bridge prints what the files say; this proves
the files describe objects a cluster takes. Each expected output (every
*.yaml and *.json of a case except input* and context*, which are what the
binary reads; *.err files are diagnostics; an empty output -- a mode that
prints nothing -- has no object to send) is sent with
`kubectl apply --server-side --dry-run=server`
-- server-side apply as the controller writes, strict field validation so
that an unknown field fails instead of being pruned -- after creating the
namespaces the objects name. Fails if any file is rejected or if no file
was found at all.
"""

import fnmatch
import glob
import os

import harness as h

SKIP = ("input*", "context*")


def expected_outputs(golden):
    files = []
    for case in sorted(glob.glob(os.path.join(golden, "*", ""))):
        paths = glob.glob(os.path.join(case, "*.yaml")) + \
            glob.glob(os.path.join(case, "*.json"))
        for path in sorted(paths):
            name = os.path.basename(path)
            if any(fnmatch.fnmatch(name, p) for p in SKIP):
                continue
            with open(path, encoding="utf-8") as f:
                if not f.read().strip():
                    continue
            files.append(path)
    return files


def namespaces_of(path):
    """Namespaces the file's objects name, parsed by kubectl itself."""
    out = h.kubectl("create", "--dry-run=client", "-f", path, "-o",
                    'jsonpath={.metadata.namespace}{"\\n"}').stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def main():
    golden = os.path.join(h.SOURCE_DIR, "tests", "golden")
    files = expected_outputs(golden)
    h.check(files, "no expected output files under %s" % golden)

    wanted = set()
    for path in files:
        wanted |= namespaces_of(path)
    for ns in sorted(wanted):
        if not h.exists("namespace", ns):
            h.kubectl("create", "namespace", ns)

    rejected = []
    for path in files:
        rel = os.path.relpath(path, golden)
        p = h.kubectl("apply", "--server-side", "--dry-run=server",
                      "--field-manager", "smi-bridge", "-f", path,
                      check=False)
        if p.returncode != 0:
            rejected.append("%s: %s" % (rel, " | ".join(
                p.stderr.strip().splitlines()[-3:])))
        else:
            h.log("accepted " + rel)
    if rejected:
        h.fail("%d of %d expected outputs rejected by the API server:\n  %s"
               % (len(rejected), len(files), "\n  ".join(rejected)))
    h.log("%d files from %s accepted" % (len(files), golden))


h.run(main)
