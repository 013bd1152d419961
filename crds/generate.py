#!/usr/bin/env python3
"""Writes smi-bridge's SMI CustomResourceDefinitions (crds/*.yaml).

Why generated: every CRD serves every released version of its kind with
conversion "None". Under "None" the API server only rewrites apiVersion
when it stores or returns an object, and it prunes the object with the
schema of the version it converts *to* -- on the way into storage (the
storage version's schema) and on the way out (the requested version's).
So a field written through one version survives only if every version's
schema declares it: an HTTPRouteGroup v1alpha1 object keeps its top-level
`matches` after being stored as v1alpha4, and a controller that watches
through one version sees the fields of all of them. Each kind therefore has
one schema -- the union of all its versions' fields -- and the versions
differ only in what they require. Writing that union out four times by
hand invites drift; this script is the single place it is defined.

Run it after editing (`crds/generate.py`); `--check` exits 1 when the
committed files are not what it would write (a test runs that).

Storage version: the newest of each kind (TrafficSplit, HTTPRouteGroup,
TCPRoute, UDPRoute v1alpha4; TrafficTarget v1alpha3), the same ones the
smi-sdk-go CRDs store, so a cluster moving from those keeps its stored
version. Because every version stays served, objects a previous installer
stored under any other version remain readable too.
"""

import json
import os
import re
import sys

LABELS = {
    "app.kubernetes.io/name": "smi-bridge",
    "app.kubernetes.io/part-of": "smi-bridge",
}

METHODS = ["*", "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT",
           "OPTIONS", "TRACE", "PATCH"]


def string(desc):
    return {"type": "string", "description": desc}


def obj(desc, props, required=None):
    node = {"type": "object", "description": desc}
    if required:
        node["required"] = required
    node["properties"] = props
    return node


def array(desc, items):
    return {"type": "array", "description": desc, "items": items}


PORTS = array("Ports the route covers; empty means every port of the "
              "destination.",
              {"type": "integer", "minimum": 1, "maximum": 65535})

# --- TrafficSplit: weights are Quantities in v1alpha1 ("500m", 1) and
# integers later; real clients send either form in any version.


def split_schema(version):
    backend = obj("A backend Service and its relative weight.", {
        "service": string("Name of the backend Service."),
        "weight": {
            "description": "Relative weight: an integer, or in v1alpha1 a "
                           "Kubernetes quantity such as 500m.",
            "x-kubernetes-int-or-string": True,
        },
    }, ["service", "weight"])
    match = obj("An HTTPRouteGroup (or TCPRoute) the split is limited to.", {
        "apiGroup": string("API group of the route."),
        "kind": string("Kind of the route, normally HTTPRouteGroup."),
        "name": string("Name of the route, in the split's namespace."),
    }, ["kind", "name"])
    spec = obj("Which root Service is split, and how.", {
        "service": string("The root Service clients address."),
        "backends": array("Services receiving the traffic.", backend),
        "matches": array("Routes the split applies to (v1alpha3 and "
                         "later); other requests go to the root Service.",
                         match),
    }, ["service", "backends"])
    return obj("TrafficSplit " + version + ".", {"spec": spec}, ["spec"])


# --- HTTPRouteGroup: `matches` is top-level in v1alpha1/v1alpha2 and under
# `spec` from v1alpha3; `headers` is a list of maps in every shipped CRD but
# a plain map in the Go types and later spec text, so both are kept.


def http_matches():
    return array("HTTP request matches; a TrafficTarget or TrafficSplit "
                 "refers to them by name.", obj(
                     "One HTTP request match.", {
                         "name": string("Name other objects use to refer "
                                        "to this match."),
                         "pathRegex": string("Regular expression the "
                                             "request path must match, "
                                             "anchored at the start."),
                         "methods": array("HTTP methods; * means any.", {
                             "type": "string", "enum": METHODS}),
                         "headers": {
                             "description": "Header name to value regex, "
                                            "as a map or as a list of "
                                            "maps.",
                             "x-kubernetes-preserve-unknown-fields": True,
                         },
                     }, ["name"]))


def routegroup_schema(version):
    return obj("HTTPRouteGroup " + version + ".", {
        "matches": http_matches(),
        "spec": obj("The route group (v1alpha3 and later).",
                    {"matches": http_matches()}),
    })


def l4route_schema(kind, version):
    return obj(kind + " " + version + ".", {
        "spec": obj("The route (v1alpha4).", {
            "matches": obj("Ports the route matches.", {
                "name": string("Name of the match."),
                "ports": PORTS,
            }),
        }),
    })


# --- TrafficTarget: v1alpha1 has destination/specs/sources at the top
# level, v1alpha2 moved them under `spec` and renamed specs to rules,
# v1alpha3 dropped destination.port.


def subject(desc, with_port):
    props = {
        "kind": string("Kind of the subject, normally ServiceAccount."),
        "name": string("Name of the subject."),
        "namespace": string("Namespace of the subject."),
    }
    if with_port:
        props["port"] = {
            "description": "Destination port (v1alpha1, v1alpha2); all "
                           "ports when omitted.",
            "x-kubernetes-int-or-string": True,
        }
    return obj(desc, props, ["kind", "name"])


def rules(desc):
    return array(desc, obj("A route the sources may use.", {
        "kind": {"type": "string", "description": "Kind of the route.",
                 "enum": ["HTTPRouteGroup", "TCPRoute", "UDPRoute"]},
        "name": string("Name of the route."),
        "matches": array("Names of the HTTPRouteGroup matches allowed; "
                         "all of them when omitted.", {"type": "string"}),
    }, ["kind", "name"]))


def target_schema(version):
    dest = subject("The identity traffic is allowed to.", True)
    sources = array("Identities allowed to send traffic.",
                    subject("An identity allowed to send traffic.", False))
    required_spec = {"v1alpha2": ["destination"],
                     "v1alpha3": ["destination", "rules", "sources"]}
    spec = obj("The access rule (v1alpha2 and later).", {
        "destination": dest,
        "rules": rules("Routes the sources may use."),
        "sources": sources,
    }, required_spec.get(version))
    return obj("TrafficTarget " + version + ".", {
        "destination": dest,
        "specs": rules("Routes the sources may use (v1alpha1)."),
        "sources": sources,
        "spec": spec,
    }, ["destination"] if version == "v1alpha1" else ["spec"])


def crd(group, kind, plural, short, versions, storage, schema, columns):
    out = []
    for v in versions:
        entry = {
            "name": v,
            "served": True,
            "storage": v == storage,
            "schema": {"openAPIV3Schema": schema(v)},
        }
        cols = columns(v)
        if cols:
            entry["additionalPrinterColumns"] = cols
        out.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": plural + "." + group, "labels": LABELS},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": kind + "List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["smi"],
            },
            "conversion": {"strategy": "None"},
            "versions": out,
        },
    }


def col(name, path, typ="string"):
    return {"name": name, "type": typ, "jsonPath": path}


AGE = col("Age", ".metadata.creationTimestamp", "date")
V1_4 = ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"]

CRDS = [
    crd("split.smi-spec.io", "TrafficSplit", "trafficsplits", "ts", V1_4,
        "v1alpha4", split_schema,
        lambda v: [col("Service", ".spec.service"), AGE]),
    crd("specs.smi-spec.io", "HTTPRouteGroup", "httproutegroups", "htr",
        V1_4, "v1alpha4", routegroup_schema, lambda v: [AGE]),
    crd("specs.smi-spec.io", "TCPRoute", "tcproutes", "tr", V1_4,
        "v1alpha4", lambda v: l4route_schema("TCPRoute", v),
        lambda v: [col("Ports", ".spec.matches.ports"), AGE]),
    crd("specs.smi-spec.io", "UDPRoute", "udproutes", "ur", ["v1alpha4"],
        "v1alpha4", lambda v: l4route_schema("UDPRoute", v),
        lambda v: [col("Ports", ".spec.matches.ports"), AGE]),
    crd("access.smi-spec.io", "TrafficTarget", "traffictargets", "tt",
        ["v1alpha1", "v1alpha2", "v1alpha3"], "v1alpha3", target_schema,
        lambda v: [col("Destination", (".destination.name" if v == "v1alpha1"
                                       else ".spec.destination.name")),
                   AGE]),
]

# --- a small block-style YAML writer (the standard library has none) ---

PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.,()'/ *-]*")
RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if (PLAIN.fullmatch(v) and not v.endswith(" ")
            and v.lower() not in RESERVED):
        return v
    return json.dumps(v)


def emit(v, ind):
    pad = " " * ind
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)):
                yield pad + k + ":"
                yield from emit(x, ind if isinstance(x, list) else ind + 2)
            else:
                yield pad + k + ": " + scalar(x)
    else:
        for x in v:
            if isinstance(x, dict):
                sub = list(emit(x, ind + 2))
                yield pad + "- " + sub[0][ind + 2:]
                yield from sub[1:]
            else:
                yield pad + "- " + scalar(x)


def render(doc):
    head = ("# Generated by crds/generate.py -- edit that file, not this "
            "one.\n---\n")
    return head + "\n".join(emit(doc, 0)) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check = sys.argv[1:] == ["--check"]
    stale = []
    for doc in CRDS:
        spec = doc["spec"]
        path = os.path.join(here, spec["group"] + "_" +
                            spec["names"]["plural"] + ".yaml")
        text = render(doc)
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old == text:
            continue
        if check:
            stale.append(os.path.basename(path))
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("crds: out of date, run crds/generate.py: " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
