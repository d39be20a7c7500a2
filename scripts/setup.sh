#!/usr/bin/env bash
# Installs what Tide needs to build on Debian: the C libraries it links (from Debian's -dev
# packages) and nothing else. Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(libjq-dev libcurl4-openssl-dev libyaml-dev libsqlite3-dev libpq-dev libhiredis-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: Swift 6 is required (https://swift.org/install)" >&2; exit 1; }
