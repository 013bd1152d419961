#!/usr/bin/env python3
"""Golden tests for `smi-bridge translate`: a directory per case, curl-style.

A case is tests/golden/<case>/ holding the input and, for every mode the
case runs in, the exact expected output (README.md in this directory has
the layout). This script runs the binary once per case and mode, with the
case directory as working directory (so file names in diagnostics are the
short relative ones the expected files show), and compares bytes:

    <mode>.yaml / <mode>.json   stdout
    <mode>.err                  "exit N" on the first line, then stderr;
                                absent = exit 0 and nothing on stderr

A mismatch prints a unified diff and fails. `--update` writes what the
binary printed instead; the diff that leaves in git must then be reviewed
line by line -- an expectation is a claim about correctness, not a
recording.

Standard library only. Exit status: 0 all cases pass, 1 a case failed,
2 usage or setup error.
"""

import argparse
import difflib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Built-in modes: name -> flags. A case's `modes` file may also define its
# own ("name: flags").
MODES = {
    "istio": "--mesh istio",
    "linkerd": "--mesh linkerd",
    "gateway-istio": "--mesh istio --routes gateway-api",
    "gateway-linkerd": "--mesh linkerd --routes gateway-api",
    "istio-v1beta1": "--mesh istio --istio-api v1beta1",
    "gateway-istio-v1beta1":
        "--mesh istio --routes gateway-api --istio-api v1beta1",
    "linkerd-sp": "--mesh linkerd --linkerd-service-profile",
    "istio-json": "--mesh istio -o json",
    "linkerd-json": "--mesh linkerd -o json",
    "gateway-linkerd-json": "--mesh linkerd --routes gateway-api -o json",
}
DEFAULT_MODES = ["istio", "linkerd", "gateway-istio", "gateway-linkerd"]

# Files a case may hold besides the expected outputs: input* and
# context* (what the binary reads), args, modes, README.
CASE_FILES = ("args", "modes", "README")

TIMEOUT = 120


class CaseError(Exception):
    pass


def read_words(path):
    """Flags from a file: shell words, `#` comments, any number of lines."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return shlex.split(f.read(), comments=True)


def case_modes(case_dir):
    """[(name, [flags])] in the order the modes file lists them."""
    path = os.path.join(case_dir, "modes")
    if not os.path.exists(path):
        return [(m, shlex.split(MODES[m])) for m in DEFAULT_MODES]
    modes = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            name, sep, flags = line.partition(":")
            name = name.strip()
            if sep:
                modes.append((name, shlex.split(flags)))
            elif name in MODES:
                modes.append((name, shlex.split(MODES[name])))
            else:
                raise CaseError("modes: unknown mode %r" % name)
    if not modes:
        raise CaseError("modes: lists no mode")
    names = [m[0] for m in modes]
    if len(set(names)) != len(names):
        raise CaseError("modes: a mode is listed twice")
    return modes


def input_args(case_dir, words):
    """The -f/--context-file flags and what stdin gets. words are the
    mode's flags and the case's args."""
    args = []
    stdin = None
    if "-f" in words or "--filename" in words:
        # The case says where its input is; `-f -` reads input.yaml on stdin.
        for i, word in enumerate(words[:-1]):
            if word in ("-f", "--filename") and words[i + 1] == "-":
                stdin = os.path.join(case_dir, "input.yaml")
    else:
        found = [n for n in ("input.yaml", "input.json", "input")
                 if os.path.exists(os.path.join(case_dir, n))]
        if len(found) > 1:
            raise CaseError("has more than one of input.yaml, input.json, "
                            "input/: %s" % found)
        if found:
            args += ["-f", found[0]]
    if os.path.exists(os.path.join(case_dir, "context.yaml")):
        args += ["--context-file", "context.yaml"]
    return args, stdin


def output_name(name, flags):
    json_out = any(flags[i] in ("-o", "--output") and flags[i + 1] == "json"
                   for i in range(len(flags) - 1)) or "--output=json" in flags
    return name + (".json" if json_out else ".yaml")


def run_mode(binary, case_dir, flags, extra):
    args, stdin = input_args(case_dir, flags + extra)
    argv = [binary, "translate"] + flags + args + extra
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    stdin_f = open(stdin, "rb") if stdin else subprocess.DEVNULL
    try:
        p = subprocess.run(argv, cwd=case_dir, stdin=stdin_f,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=TIMEOUT)
    finally:
        if stdin:
            stdin_f.close()
    err = b"exit %d\n" % p.returncode + p.stderr
    return argv, p.stdout, err


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def diff(expected, actual, name):
    a = (expected or b"").decode("utf-8", "replace").splitlines(True)
    b = actual.decode("utf-8", "replace").splitlines(True)
    out = "".join(difflib.unified_diff(a, b, "expected/" + name,
                                       "actual/" + name))
    return out if out.endswith("\n") else out + "\n"


def expected_files(modes):
    files = set()
    for name, flags in modes:
        files.add(output_name(name, flags))
        files.add(name + ".err")
    return files


def check_case(binary, case_dir, update):
    """Returns a list of failure messages (empty when the case passes)."""
    case = os.path.basename(case_dir.rstrip("/"))
    modes = case_modes(case_dir)
    extra = read_words(os.path.join(case_dir, "args"))
    failures = []

    for name, flags in modes:
        argv, out, err = run_mode(binary, case_dir, flags, extra)
        out_name = output_name(name, flags)
        out_path = os.path.join(case_dir, out_name)
        err_path = os.path.join(case_dir, name + ".err")
        want_out = read_bytes(out_path)
        want_err = read_bytes(err_path)
        if want_err is None and want_out is not None:
            want_err = b"exit 0\n"
        shown = " ".join(shlex.quote(os.path.basename(a) if i == 0 else a)
                         for i, a in enumerate(argv))
        if update:
            if want_out != out:
                with open(out_path, "wb") as f:
                    f.write(out)
                print("updated %s/%s" % (case, out_name))
            if err == b"exit 0\n":
                if os.path.exists(err_path):
                    os.remove(err_path)
                    print("removed %s/%s.err" % (case, name))
            elif want_err != err:
                with open(err_path, "wb") as f:
                    f.write(err)
                print("updated %s/%s.err" % (case, name))
            continue
        if want_out is None:
            failures.append("%s: %s: missing expected output %s (run with "
                            "--update, then review it)" % (case, name,
                                                           out_name))
            continue
        if out != want_out:
            failures.append("%s: %s: stdout differs\n  $ %s\n%s" % (
                case, name, shown, diff(want_out, out, out_name)))
        if err != want_err:
            failures.append("%s: %s: exit status or stderr differs\n  $ %s\n%s"
                            % (case, name, shown,
                               diff(want_err, err, name + ".err")))

    # Expected files no mode produces are stale: a renamed mode, a mode
    # taken out of the modes file.
    known = expected_files(modes)
    for entry in sorted(os.listdir(case_dir)):
        if (entry in CASE_FILES or entry in known or entry.startswith(".")
                or entry.startswith(("input", "context"))):
            continue
        if entry.endswith((".yaml", ".json", ".err")):
            if update:
                os.remove(os.path.join(case_dir, entry))
                print("removed stale %s/%s" % (case, entry))
            else:
                failures.append("%s: %s is not the output of any mode "
                                "(stale? --update removes it)" % (case, entry))
    return failures


def list_cases(names):
    if names:
        dirs = []
        for n in names:
            d = os.path.join(HERE, n)
            if not os.path.isdir(d):
                raise CaseError("no case %s" % n)
            dirs.append(d)
        return dirs
    return sorted(os.path.join(HERE, d) for d in os.listdir(HERE)
                  if os.path.isdir(os.path.join(HERE, d))
                  and not d.startswith((".", "_")))


def self_test(binary):
    """The runner must notice a wrong expectation, a wrong exit status and
    a stale file; a runner that cannot fail proves nothing."""
    src = os.path.join(HERE, "split-v1alpha2-osm")
    tmp = tempfile.mkdtemp(prefix="golden-selftest-")
    try:
        case = os.path.join(tmp, "case")
        shutil.copytree(src, case)
        if check_case(binary, case, False):
            print("self-test: the pristine copy does not pass")
            return 1
        path = os.path.join(case, "istio.yaml")
        with open(path, "rb") as f:
            good = f.read()
        with open(path, "wb") as f:
            f.write(good.replace(b"weight: 90", b"weight: 91"))
        bad = check_case(binary, case, False)
        if len(bad) != 1 or "stdout differs" not in bad[0] or \
                "+      weight: 90" not in bad[0]:
            print("self-test: a changed weight was not reported:\n%s" % bad)
            return 1
        with open(path, "wb") as f:
            f.write(good)
        with open(os.path.join(case, "linkerd.err"), "wb") as f:
            f.write(b"exit 0\nsomething\n")
        bad = check_case(binary, case, False)
        if len(bad) != 1 or "exit status or stderr differs" not in bad[0]:
            print("self-test: a wrong .err was not reported:\n%s" % bad)
            return 1
        os.remove(os.path.join(case, "linkerd.err"))
        with open(os.path.join(case, "old-mode.yaml"), "wb") as f:
            f.write(b"")
        bad = check_case(binary, case, False)
        if len(bad) != 1 or "not the output of any mode" not in bad[0]:
            print("self-test: a stale file was not reported:\n%s" % bad)
            return 1
        os.remove(os.path.join(case, "istio.yaml"))
        bad = check_case(binary, case, False)
        if not any("missing expected output" in b for b in bad):
            print("self-test: a missing expectation was not reported")
            return 1
        print("PASS runner self-test")
        return 0
    finally:
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case directories (default all)")
    ap.add_argument("--binary", default=os.environ.get(
        "SB_SMI_BRIDGE", os.path.join(ROOT, "build", "smi-bridge")),
        help="smi-bridge to test (default $SB_SMI_BRIDGE or build/smi-bridge)")
    ap.add_argument("--update", action="store_true",
                    help="write the actual output as the expectation "
                    "(then review the diff!)")
    ap.add_argument("--self-test", action="store_true",
                    help="check that the runner detects mismatches")
    opts = ap.parse_args()

    binary = os.path.abspath(opts.binary)
    if not os.access(binary, os.X_OK):
        print("run.py: no executable %s (build first, or --binary)" % binary,
              file=sys.stderr)
        return 2
    if opts.self_test:
        return self_test(binary)
    try:
        cases = list_cases(opts.cases)
    except CaseError as e:
        print("run.py: %s" % e, file=sys.stderr)
        return 2
    failed = 0
    for case_dir in cases:
        name = os.path.basename(case_dir)
        try:
            failures = check_case(binary, case_dir, opts.update)
        except (CaseError, subprocess.TimeoutExpired) as e:
            failures = ["%s: %s" % (name, e)]
        if failures:
            failed += 1
            for f in failures:
                print("FAIL " + f)
        elif not opts.update:
            print("PASS %s" % name)
    if not opts.update:
        print("%d of %d cases passed" % (len(cases) - failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
