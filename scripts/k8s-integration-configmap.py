#!/usr/bin/env python3
"""Prints a Kubernetes ConfigMap holding an integration directory's files, for
deploy/kubernetes/integration-configmap.yaml:

    .build-venv-k8s/bin/python scripts/k8s-integration-configmap.py integrations/jira tide-jira-integration \
        > deploy/kubernetes/integration-configmap.yaml

A ConfigMap's keys cannot hold '/', so each file is stored under its base name and the pods'
volume lists `items` (key -> path) that put it back at its place: integration.yml and
.port/resources/*. Fixtures and tests are left out (tide run does not read them). With --items it
prints those items as JSON instead, which scripts/check-manifests.sh compares with the volumes of
deploy/kubernetes/*.yaml. Needs PyYAML (in the .build-venv-k8s venv that check-manifests.sh makes)."""
import json
import os
import sys

import yaml


def files(directory):
    found = []
    if os.path.isfile(os.path.join(directory, "integration.yml")):
        found.append("integration.yml")
    resources = os.path.join(directory, ".port", "resources")
    if os.path.isdir(resources):
        for name in sorted(os.listdir(resources)):
            if os.path.isfile(os.path.join(resources, name)):
                found.append(".port/resources/" + name)
    keys = [os.path.basename(path) for path in found]
    if len(set(keys)) != len(keys):
        sys.exit(f"k8s-integration-configmap: two files of {directory} share a base name: {keys}")
    return [(os.path.basename(path), path) for path in found]


class Literal(str):
    pass


def literal(dumper, text):
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")


yaml.add_representer(Literal, literal, Dumper=yaml.SafeDumper)


def main(argv):
    items = "--items" in argv
    args = [a for a in argv if a != "--items"]
    if len(args) != 2:
        sys.exit("usage: k8s-integration-configmap.py [--items] DIR NAME")
    directory, name = args
    pairs = files(directory)
    if not pairs:
        sys.exit(f"k8s-integration-configmap: {directory} has no integration.yml")
    if items:
        print(json.dumps([{"key": key, "path": path} for key, path in pairs]))
        return
    data = {}
    for key, path in pairs:
        with open(os.path.join(directory, path), encoding="utf-8") as handle:
            data[key] = Literal(handle.read())
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "tide", "app.kubernetes.io/instance": os.path.basename(os.path.normpath(directory))},
        },
        "data": data,
    }
    sys.stdout.write(f"# Generated from {directory} by scripts/k8s-integration-configmap.py; do not edit by hand.\n"
                     "# scripts/check-manifests.sh fails when it no longer matches the integration's files.\n")
    sys.stdout.write(yaml.safe_dump(manifest, sort_keys=False, width=4096, allow_unicode=True))


if __name__ == "__main__":
    main(sys.argv[1:])
