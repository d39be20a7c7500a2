#!/usr/bin/env bash
# Makes .build-venv (git-ignored) with port-ocean 0.56.2, the oracle of scripts/fuzz-mappings.py
# and scripts/jq-oracle.py. port-ocean 0.56 needs Python >= 3.12.
set -euo pipefail
cd "$(dirname "$0")/.."
python=""
for candidate in python3.13 python3.12 /root/.pyenv/versions/3.12.1/bin/python; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    python=$candidate; break
  fi
done
[ -n "$python" ] || { echo "fuzz-setup: needs Python 3.12 or newer for port-ocean 0.56.2" >&2; exit 1; }
[ -x .build-venv/bin/python ] || "$python" -m venv .build-venv
.build-venv/bin/pip install -q port-ocean==0.56.2 jq==1.13.0
.build-venv/bin/python -c 'import importlib.metadata as m; print("fuzz-setup: port-ocean", m.version("port-ocean"), "jq", m.version("jq"))'
