#!/usr/bin/env python3
"""Checks schemas/*.schema.json against the JSON Schema 2020-12 metaschema, then validates every
YAML file shipped in integrations/ that names one of them on its first line
(`# yaml-language-server: $schema=…`) against that schema. Offline; needs jsonschema and PyYAML.

    python3 scripts/check-schemas.py
"""
import json
import os
import re
import sys

import jsonschema
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "schemas")


class CoreLoader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1 (`yes` is true); Tide reads YAML 1.2's core schema. Only
    true/false stay booleans here, so the check sees what Tide sees."""


CoreLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
CoreLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))

failures = 0
schemas = {}
for name in sorted(os.listdir(SCHEMAS)):
    if not name.endswith(".schema.json"):
        continue
    with open(os.path.join(SCHEMAS, name)) as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    schemas[name] = schema
    print(f"ok   schemas/{name} is a valid 2020-12 schema")

checked = 0
for directory, folders, files in os.walk(os.path.join(ROOT, "integrations")):
    for file in sorted(files):
        if not file.endswith((".yml", ".yaml")):
            continue
        path = os.path.join(directory, file)
        with open(path) as handle:
            first = handle.readline()
            match = re.match(r"#\s*yaml-language-server:\s*\$schema=(\S+)", first)
            if not match:
                continue
            handle.seek(0)
            document = yaml.load(handle, Loader=CoreLoader)
        name = os.path.basename(match.group(1))
        relative = os.path.relpath(path, ROOT)
        target = os.path.normpath(os.path.join(directory, match.group(1)))
        if target != os.path.join(SCHEMAS, name) or name not in schemas:
            print(f"FAIL {relative}: $schema={match.group(1)} does not point at a file in schemas/")
            failures += 1
            continue
        errors = sorted(jsonschema.Draft202012Validator(schemas[name]).iter_errors(document), key=lambda e: list(e.path))
        for error in errors:
            print(f"FAIL {relative}: {'/'.join(map(str, error.path))}: {error.message}")
        failures += len(errors)
        checked += 1
        if not errors:
            print(f"ok   {relative} validates against {name}")

print(f"{checked} files checked, {failures} failures")
sys.exit(1 if failures or not checked else 0)
