#!/usr/bin/env python3
"""Checks that Package.swift's declared dependencies are the modules each target imports.

For every target, the modules its Swift files `import` (this package's targets and the products
of its package dependencies; the toolchain's own modules such as Foundation are left out) are
compared with its `dependencies:` array. Two kinds of disagreement are reported:

  declared, never imported   a dependency no file of the target imports
  imported, undeclared       a module the target imports only because something else pulls it in

Either makes the graph in Package.swift lie about the code, so both fail (exit 1).
Usage: scripts/check-deps.py [PACKAGE_DIR]   (default: the repository this script is in)
"""
import os
import re
import sys

# Modules that come with the toolchain or the OS, never declared in Package.swift.
SYSTEM = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Musl", "Darwin",
    "Synchronization", "Testing", "XCTest", "os", "_Concurrency", "Observation", "RegexBuilder",
    "PackageDescription",
}

TARGET = re.compile(r"\.(target|testTarget|executableTarget|systemLibrary)\(\s*name:\s*\"([^\"]+)\"")
IMPORT = re.compile(r"^\s*(?:@[\w]+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|protocol|typealias|func|let|var)\s+)?([A-Za-z_][\w]*)",
                    re.MULTILINE)


def matching_bracket(text, start):
    """The index just past the bracket that closes the one at `start`, skipping string literals."""
    depth, index, in_string = 0, start, False
    while index < len(text):
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == "\"":
                in_string = False
        elif char == "\"":
            in_string = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unbalanced brackets in Package.swift")


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


def read_targets(package_dir):
    text = strip_comments(open(os.path.join(package_dir, "Package.swift")).read())
    targets = {}
    for match in TARGET.finditer(text):
        kind, name = match.group(1), match.group(2)
        call = text[match.start(): matching_bracket(text, text.index("(", match.start()))]
        dependencies = set()
        found = re.search(r"dependencies:\s*\[", call)
        if found:
            start = found.end() - 1
            array = call[start: matching_bracket(call, start)]
            dependencies |= set(re.findall(r"\.product\(\s*name:\s*\"([^\"]+)\"", array))
            without_products = re.sub(r"\.product\([^)]*\)", "", array)
            dependencies |= set(re.findall(r"\"([^\"]+)\"", without_products))
        path = re.search(r"path:\s*\"([^\"]+)\"", call)
        if path:
            folder = path.group(1)
        else:
            folder = os.path.join("Tests" if kind == "testTarget" else "Sources", name)
        targets[name] = {"kind": kind, "dependencies": dependencies, "folder": folder}
    return targets


def imports_of(package_dir, folder):
    found = set()
    for root, _, files in os.walk(os.path.join(package_dir, folder)):
        for file in files:
            if file.endswith(".swift"):
                found |= set(IMPORT.findall(open(os.path.join(root, file), encoding="utf-8").read()))
    return found


def check(package_dir):
    targets = read_targets(package_dir)
    problems = []
    for name, target in sorted(targets.items()):
        if target["kind"] == "systemLibrary":
            continue
        imported = imports_of(package_dir, target["folder"]) - SYSTEM - {name}
        declared = target["dependencies"]
        for module in sorted(declared - imported):
            problems.append(f"{name}: declares {module}, never imported")
        for module in sorted(imported - declared):
            problems.append(f"{name}: imports {module}, undeclared")
    return targets, problems


def main():
    package_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    targets, problems = check(package_dir)
    for problem in problems:
        print(problem)
    checked = sum(1 for target in targets.values() if target["kind"] != "systemLibrary")
    if problems:
        print(f"check-deps: {len(problems)} disagreement(s) between Package.swift and the imports of {checked} targets")
        return 1
    print(f"check-deps: the declared dependencies of {checked} targets are exactly what they import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
