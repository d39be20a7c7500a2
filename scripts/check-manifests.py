#!/usr/bin/env python3
"""The consistency half of scripts/check-manifests.sh: deploy/Dockerfile and deploy/kubernetes/*.yaml
against what Tide really reads and serves. Run with the .build-venv-k8s Python (PyYAML).

Compares, and counts:
  - every environment variable the manifests and the Dockerfile set with docs/environment.md's table
    (OCEAN__INTEGRATION__CONFIG__<NAME> with the settings of the integration the pod runs;
    PGPASSWORD, libpq's, with docs/scale-out.md);
  - every secretKeyRef / configMapRef with the Secret and ConfigMaps defined beside them;
  - every probe path with the routes Sources/TideWebhooks/LiveService.swift answers, and the probe
    ports with the container's ports;
  - every `tide run` option in args with RunCommand.swift's options, the listener types with
    EventListenerType, the --listen port with containerPort;
  - the integration volume with scripts/k8s-integration-configmap.py's output (items and ConfigMap),
    its mountPath with the directory `tide run` is given, and that directory with integrations/;
  - Service and PodDisruptionBudget selectors with the Deployment's pod labels;
  - runAsUser with the Dockerfile's USER;
  - the Dockerfile's structure (stages, images, non-root user, entrypoint, the integrations copied in)
    and its runtime packages with scripts/setup.sh's -dev packages (through dpkg on this Debian 12
    machine), and, when a tide binary is given, with the shared libraries it links (ldd, dpkg -S);
  - with that binary too, `tide lint` on the integration ConfigMap laid out as the kubelet mounts it.
Exits 1 on the first list of failures; prints what it compared."""
import glob
import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
failures = []
counts = {}


def fail(message):
    failures.append(message)


def count(what, n=1):
    counts[what] = counts.get(what, 0) + n


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


# ---- what Tide reads and serves ----
environment_doc = read("docs/environment.md")
documented = set()
for line in environment_doc.splitlines():
    if line.startswith("| `"):
        first = line.split("|")[1]
        documented.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first))
scale_out = read("docs/scale-out.md")
live = read("Sources/TideWebhooks/LiveService.swift")
routes = set(re.findall(r'case \("GET", "(/[^"]*)"\)', live)) | set(re.findall(r'\("GET", "(/[^"]*)"\)', live))
listeners = set(re.findall(r'case \w+ = "([A-Z_]+)"', live[live.index("enum EventListenerType"):][:400]))
run_source = read("Sources/TideCLI/RunCommand.swift") + read("Sources/TideCLI/FormatOption.swift")
options = set()
for match in re.finditer(r"@(Option|Flag)\(name: \.long[^\n]*\n\s*var (\w+)", run_source):
    options.add("--" + re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), match.group(2)))
if not routes or not listeners or not options or not documented:
    fail(f"could not read Tide's routes ({routes}), listeners ({listeners}), run options ({options}) or documented variables")


def setting_names(integration):
    spec = yaml.safe_load(read(os.path.join(integration, "integration.yml")))
    return {re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", c["name"]).upper(): c for c in spec.get("configuration", [])}


# ---- the manifests ----
docs = []
for path in sorted(glob.glob("deploy/kubernetes/*.yaml")):
    for doc in yaml.safe_load_all(read(path)):
        if doc:
            docs.append((path, doc))
by_kind = {}
for path, doc in docs:
    by_kind.setdefault(doc["kind"], []).append((path, doc))
configmaps = {d["metadata"]["name"]: d for _, d in by_kind.get("ConfigMap", [])}
secrets = {d["metadata"]["name"]: (p, d) for p, d in by_kind.get("Secret", [])}
dockerfile = read("deploy/Dockerfile")
user = re.search(r"^USER (\d+)(?::(\d+))?\s*$", dockerfile, re.M)


def pod_specs():
    for path, doc in by_kind.get("Deployment", []):
        yield path, doc, doc["spec"]["template"]
    for path, doc in by_kind.get("CronJob", []):
        yield path, doc, doc["spec"]["jobTemplate"]["spec"]["template"]


deployment_labels = []
for path, doc, template in pod_specs():
    where = f"{path} ({doc['kind']} {doc['metadata']['name']})"
    spec = template["spec"]
    if doc["kind"] == "Deployment":
        deployment_labels.append(template["metadata"]["labels"])
    security = spec.get("securityContext", {})
    if not security.get("runAsNonRoot"):
        fail(f"{where}: runAsNonRoot is not set")
    if user and str(security.get("runAsUser")) != user.group(1):
        fail(f"{where}: runAsUser {security.get('runAsUser')} is not the Dockerfile's USER {user.group(1)}")
    else:
        count("runAsUser equal to the Dockerfile's USER")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for container in spec["containers"]:
        cwhere = f"{where} container {container['name']}"
        if not container.get("securityContext", {}).get("readOnlyRootFilesystem"):
            fail(f"{cwhere}: readOnlyRootFilesystem is not set")
        args = container.get("args", [])
        if not args or args[0] != "run" or len(args) < 2:
            fail(f"{cwhere}: args do not start with `run DIR`")
            continue
        directory = args[1]
        if not directory.startswith("/opt/tide/integrations/"):
            fail(f"{cwhere}: {directory} is not under /opt/tide/integrations/, where the Dockerfile copies integrations/")
        integration = os.path.join("integrations", directory[len("/opt/tide/integrations/"):])
        if not os.path.isfile(os.path.join(integration, "integration.yml")):
            fail(f"{cwhere}: {integration}/integration.yml does not exist, so the image has no {directory}")
            continue
        settings = setting_names(integration)
        # options and their values
        values = {}
        i = 2
        while i < len(args):
            arg = args[i]
            if arg.startswith("--"):
                name, _, inline = arg.partition("=")
                if name not in options:
                    fail(f"{cwhere}: `tide run` has no option {name} (RunCommand.swift)")
                else:
                    count("tide run options in args checked against RunCommand.swift")
                if inline:
                    values[name] = inline
                elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                    values[name] = args[i + 1]
                    i += 1
            i += 1
        listener = values.get("--event-listener", "ONCE")
        if listener not in listeners:
            fail(f"{cwhere}: listener {listener} is not one of {sorted(listeners)}")
        count("listener types checked against EventListenerType")
        if doc["kind"] == "CronJob" and listener != "ONCE":
            fail(f"{cwhere}: a CronJob must run the ONCE listener (one resync, then exit), not {listener}")
        if doc["kind"] == "Deployment" and listener == "ONCE":
            fail(f"{cwhere}: a Deployment's pods must serve (not ONCE, which exits after one resync)")
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        if "--listen" in values:
            port = int(values["--listen"].rsplit(":", 1)[-1])
            if port not in ports.values():
                fail(f"{cwhere}: --listen port {port} is not a containerPort ({ports})")
            else:
                count("--listen port equal to containerPort")
        # probes
        for probe, wanted in (("readinessProbe", "/ready"), ("livenessProbe", "/health"), ("startupProbe", None)):
            if probe not in container:
                if doc["kind"] == "Deployment" and wanted:
                    fail(f"{cwhere}: no {probe}")
                continue
            http = container[probe].get("httpGet", {})
            if http.get("path") not in routes:
                fail(f"{cwhere}: {probe} path {http.get('path')} is not a route LiveService.swift serves ({sorted(routes)})")
            elif wanted and http["path"] != wanted:
                fail(f"{cwhere}: {probe} should ask {wanted}, not {http['path']}")
            else:
                count("probe paths checked against LiveService.swift's routes")
            if http.get("port") not in ports and http.get("port") not in ports.values():
                fail(f"{cwhere}: {probe} port {http.get('port')} is not a container port")
        # environment
        names = []
        for entry in container.get("env", []):
            names.append(entry["name"])
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                if ref["name"] not in secrets:
                    fail(f"{cwhere}: {entry['name']} reads Secret {ref['name']}, which deploy/kubernetes does not define")
                    continue
                secret_path, secret = secrets[ref["name"]]
                present = set(secret.get("stringData", {})) | set(secret.get("data", {}))
                if ref["key"] not in present and not (ref.get("optional") and re.search(rf"^\s*#\s*{re.escape(ref['key'])}:", read(secret_path), re.M)):
                    fail(f"{cwhere}: {entry['name']} reads key {ref['key']}, which Secret {ref['name']} neither has nor shows (commented, for an optional key)")
                else:
                    count("secretKeyRef keys found in the Secret")
        for source in container.get("envFrom", []):
            name = source.get("configMapRef", {}).get("name")
            if name:
                if name not in configmaps:
                    fail(f"{cwhere}: envFrom ConfigMap {name} is not defined in deploy/kubernetes")
                else:
                    names.extend(configmaps[name].get("data", {}))
                    count("configMapRef found")
        for name in names:
            count("environment variables checked against docs/environment.md")
            if name in documented:
                continue
            if name.startswith("OCEAN__INTEGRATION__CONFIG__"):
                setting = name[len("OCEAN__INTEGRATION__CONFIG__"):]
                if setting in settings:
                    if settings[setting].get("sensitive") and name not in [e["name"] for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]:
                        fail(f"{cwhere}: {name} is a sensitive setting of {integration} and must come from a Secret")
                    continue
                fail(f"{cwhere}: {name} names no setting of {integration} ({sorted(settings)})")
                continue
            if name == "PGPASSWORD" and "PGPASSWORD" in scale_out:
                continue
            fail(f"{cwhere}: {name} is not a variable docs/environment.md documents")
        required = [s for s, c in settings.items() if c.get("required")]
        for setting in required:
            if "OCEAN__INTEGRATION__CONFIG__" + setting not in names:
                fail(f"{cwhere}: the required setting {setting} of {integration} is not set")
        if doc["kind"] == "Deployment" and int(doc["spec"].get("replicas", 1)) > 1:
            for needed in ("TIDE_CATALOG", "TIDE_EVENTS"):
                if needed not in names:
                    fail(f"{cwhere}: {doc['spec']['replicas']} replicas need {needed} (a shared catalog and shared live events)")
        # the integration volume
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"], {})
            if "configMap" in volume and mount["mountPath"] == directory:
                cm = volume["configMap"]
                expected = json.loads(subprocess.run([sys.executable, "scripts/k8s-integration-configmap.py", "--items", integration, cm["name"]],
                                                     check=True, capture_output=True, text=True).stdout)
                if sorted(map(json.dumps, cm.get("items", []))) != sorted(map(json.dumps, expected)):
                    fail(f"{cwhere}: volume {mount['name']} items {cm.get('items')} differ from {integration}'s files {expected}")
                else:
                    count("integration volume items equal to the integration's files")
                generated = subprocess.run([sys.executable, "scripts/k8s-integration-configmap.py", integration, cm["name"]],
                                           check=True, capture_output=True, text=True).stdout
                committed = [p for p, d in by_kind.get("ConfigMap", []) if d["metadata"]["name"] == cm["name"]]
                if not committed:
                    fail(f"{cwhere}: ConfigMap {cm['name']} is not defined in deploy/kubernetes")
                elif read(committed[0]) != generated:
                    fail(f"{committed[0]} is not what scripts/k8s-integration-configmap.py {integration} {cm['name']} prints: regenerate it")
                else:
                    count("integration ConfigMap equal to the integration's files")

if not deployment_labels:
    fail("no Deployment in deploy/kubernetes")
if not by_kind.get("CronJob"):
    fail("no CronJob in deploy/kubernetes")
for kind, selector_of in (("Service", lambda d: d["spec"]["selector"]), ("PodDisruptionBudget", lambda d: d["spec"]["selector"]["matchLabels"])):
    for path, doc in by_kind.get(kind, []):
        selector = selector_of(doc)
        if not any(all(labels.get(k) == v for k, v in selector.items()) for labels in deployment_labels):
            fail(f"{path}: {kind} selector {selector} matches no Deployment's pods")
        else:
            count("selectors matching the Deployment's pods")
for path, doc in by_kind.get("Service", []):
    for port in doc["spec"]["ports"]:
        count("Service target ports checked")
        target = port.get("targetPort")
        if isinstance(target, str) and not any(
                target in [p.get("name") for c in t["spec"]["containers"] for p in c.get("ports", [])]
                for _, d, t in pod_specs() if d["kind"] == "Deployment"):
            fail(f"{path}: targetPort {target} names no container port")

# ---- the Dockerfile ----
stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.M | re.I)
args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", dockerfile, re.M))
images = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image) for image, _ in stages]
structure = [
    (len(stages) >= 2, "a multi-stage build (two FROM or more)"),
    (bool(images) and re.fullmatch(r"swift:6\.\d+(\.\d+)?-bookworm", images[0]) is not None, f"the builder is swift:6.x-bookworm ({images[:1]})"),
    (bool(images) and images[-1] == "debian:bookworm-slim", f"the runtime is debian:bookworm-slim ({images[-1:]})"),
    (re.search(r"^COPY --from=" + re.escape(stages[0][1] or "0") + r"\b", dockerfile, re.M | re.I) is not None if stages else False, "the runtime copies from the builder"),
    ("scripts/setup.sh" in dockerfile, "the builder installs the -dev packages with scripts/setup.sh"),
    ("--static-swift-stdlib" in dockerfile, "tide is linked with --static-swift-stdlib (no Swift libraries in the runtime)"),
    (re.search(r"^COPY integrations ", dockerfile, re.M) is not None, "the integrations are copied in"),
    (user is not None and user.group(1) != "0", "a numeric non-root USER"),
    (re.search(r'^ENTRYPOINT \["(/usr/local/bin/)?tide"\]', dockerfile, re.M) is not None, "ENTRYPOINT [\"tide\"]"),
    (re.search(r"^EXPOSE 8000\b", dockerfile, re.M) is not None, "EXPOSE 8000 (APPLICATION__PORT's default)"),
]
for ok, what in structure:
    count("Dockerfile structure checks")
    if not ok:
        fail(f"deploy/Dockerfile: expected {what}")
for name in re.findall(r"^ENV\s+(\w+)=", dockerfile, re.M):
    count("environment variables checked against docs/environment.md")
    if name not in documented:
        fail(f"deploy/Dockerfile: ENV {name} is not a variable docs/environment.md documents")
ignored = read(".dockerignore").split()
for needed in (".build", ".tide", ".git"):
    count(".dockerignore entries checked")
    if needed not in ignored:
        fail(f".dockerignore: {needed} is not left out of the build context")

runtime_stage = dockerfile[dockerfile.rindex("\nFROM "):]
installed = set()
for command in re.findall(r"apt-get install ((?:[^\n]*\\\n)*[^\n]*)", runtime_stage):
    installed.update(w for w in command.replace("\\\n", " ").split() if not w.startswith("-") and w != "&&" and re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w))
dev_packages = re.search(r"^packages=\(([^)]*)\)", read("scripts/setup.sh"), re.M).group(1).split()


def dpkg(*query):
    try:
        return subprocess.run(["dpkg-query", *query], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


for dev in dev_packages:
    count("setup.sh -dev packages with their runtime library in the image")
    depends = dpkg("-W", "-f=${Depends}", dev)
    if depends is None:
        fail(f"dpkg does not know {dev} (scripts/setup.sh installs it): cannot find its runtime library")
        continue
    libraries = [d.split()[0] for d in depends.split(",") if re.match(r"\s*lib[a-z0-9.+-]*\d", d) and not d.strip().split()[0].endswith("-dev")]
    if not any(lib in installed for lib in libraries):
        fail(f"deploy/Dockerfile: the runtime installs none of {libraries}, the libraries {dev} is for")

binary = os.environ.get("TIDE_BIN") or next((p for p in (".build/debug/tide", ".build/release/tide") if os.path.exists(p)), None)
if binary:
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    swift_lib = os.path.realpath(os.path.join(os.path.dirname(subprocess.run(["which", "swift"], capture_output=True, text=True).stdout.strip() or "/"), "..", "lib", "swift"))
    closure, queue = set(), sorted(installed)
    while queue:
        package = queue.pop()
        if package in closure:
            continue
        closure.add(package)
        depends = dpkg("-W", "-f=${Depends},${Pre-Depends}", package) or ""
        for alternative in depends.split(","):
            first = alternative.split("|")[0].strip().split(" ")[0].split(":")[0]
            if first:
                queue.append(first)
    for line in ldd.splitlines():
        found = re.search(r"=>\s+(\S+)", line)
        if not found or not found.group(1).startswith("/"):
            continue
        library = os.path.realpath(found.group(1))
        if library.startswith(swift_lib + "/") or "/usr/lib/swift/" in library:
            count("linked Swift runtime libraries (static in the image)")
            continue
        count("linked C libraries checked against the runtime packages")
        owner = (subprocess.run(["dpkg", "-S", library], capture_output=True, text=True).stdout or
                 subprocess.run(["dpkg", "-S", found.group(1)], capture_output=True, text=True).stdout)
        package = owner.split(":")[0].strip() if owner else None
        if not package:
            fail(f"{binary} links {library}, which no Debian package owns")
            continue
        priority = (dpkg("-W", "-f=${Priority}", package) or "").strip()
        if package not in closure and priority != "required":
            fail(f"{binary} links {library} ({package}), which the runtime stage neither installs nor gets through its packages' dependencies")
    # The integration as the pods see it: the ConfigMap's items laid out the way the kubelet mounts a
    # ConfigMap volume (files in a hidden ..<timestamp> folder, reached through ..data symlinks),
    # then `tide lint` on it: everything loads and checks without the image's copy.
    import tempfile
    for path, doc, template in pod_specs():
        for volume in template["spec"].get("volumes", []):
            cm = volume.get("configMap")
            if not cm or cm["name"] not in configmaps:
                continue
            with tempfile.TemporaryDirectory(prefix="tide-k8s-") as scratch:
                directory = os.path.join(scratch, "integration")
                stamp = os.path.join(directory, "..2026_01_01_00_00_00.000000000")
                for item in cm.get("items", []):
                    target = os.path.join(stamp, item["path"])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "w", encoding="utf-8") as handle:
                        handle.write(configmaps[cm["name"]]["data"][item["key"]])
                os.symlink(os.path.basename(stamp), os.path.join(directory, "..data"))
                for top in sorted({item["path"].split("/")[0] for item in cm.get("items", [])}):
                    os.symlink(os.path.join("..data", top), os.path.join(directory, top))
                lint = subprocess.run([binary, "lint", directory], capture_output=True, text=True)
                count("integration ConfigMaps linted as the kubelet mounts them")
                if lint.returncode != 0:
                    fail(f"{path}: tide lint on ConfigMap {cm['name']} mounted as the kubelet does: {lint.stdout}{lint.stderr}")
else:
    print("check-manifests: no tide binary (.build/debug/tide or TIDE_BIN): the linked-libraries and ConfigMap lint checks are left out")

for what, n in counts.items():
    print(f"check-manifests: {n} {what}")
if failures:
    for message in failures:
        print(f"check-manifests: FAIL {message}", file=sys.stderr)
    sys.exit(1)
print(f"check-manifests: consistency: {sum(counts.values())} checks passed")
