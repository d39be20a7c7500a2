#!/usr/bin/env bash
# Checks deploy/ offline: the Kubernetes manifests against the Kubernetes JSON schemas, and the
# manifests and the Dockerfile against what Tide reads and serves. Nothing here builds an image
# or talks to a cluster (neither is possible on the machine this was written on); see
# docs/scale-out.md#kubernetes for what that leaves untested.
#
# 1. bash -n on every script under scripts/.
# 2. kubernetes-validate (PyPI, schemas bundled in the package, no network at run time), in
#    .build-venv-k8s (git-ignored, made once, reused after), --strict (unknown fields fail), against
#    the oldest and the newest Kubernetes versions stated below.
# 3. scripts/check-manifests.py: environment variables against docs/environment.md, probe paths
#    against the routes Tide serves, `tide run` options and listener types against the sources,
#    Secret and ConfigMap references, the integration ConfigMap against integrations/, selectors,
#    the Dockerfile's structure and runtime packages (and, when .build/debug/tide exists or TIDE_BIN
#    names a binary, the libraries it links, and `tide lint` on the ConfigMap as the kubelet mounts it).
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

validator_version=1.37.0            # kubernetes-validate; bundles schemas for Kubernetes 1.25 to 1.37
kubernetes_versions=(1.30.0 1.37.0) # the oldest Kubernetes the manifests claim (CronJob timeZone is GA since 1.27), and the newest bundled
venv=.build-venv-k8s

installed=""
[ -x "$venv/bin/python" ] && installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true)
if [ "$installed" != "$validator_version" ]; then
  echo "check-manifests: installing kubernetes-validate $validator_version into $venv"
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      # Debian's own python3 needs python3-venv for `-m venv` (ensurepip); installed only then.
      rm -rf "$venv"
      sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    fi
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$validator_version"
fi

status=0
scripts=(scripts/*.sh)
for script in "${scripts[@]}"; do
  bash -n "$script" || { echo "check-manifests: FAIL bash -n $script" >&2; status=1; }
done
echo "check-manifests: bash -n: ${#scripts[@]} scripts"

manifests=(deploy/kubernetes/*.yaml)
resources=$(grep -c '^kind:' "${manifests[@]}" | awk -F: '{n += $2} END {print n}')
for version in "${kubernetes_versions[@]}"; do
  if "$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" "${manifests[@]}"; then
    echo "check-manifests: kubernetes-validate $validator_version --strict, Kubernetes $version: ${#manifests[@]} files, $resources resources valid"
  else
    echo "check-manifests: FAIL kubernetes-validate against Kubernetes $version" >&2; status=1
  fi
done

"$venv/bin/python" scripts/check-manifests.py || status=1
[ "$status" -eq 0 ] && echo "check-manifests: all passed" || echo "check-manifests: FAILED" >&2
exit "$status"
