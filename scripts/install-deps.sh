#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, skipping those present.
# Usage: scripts/install-deps.sh [extra-package ...]
# The Makefile's deps target passes the NATS bridge's packages (BRIDGE_DEPS: libnats-dev nats-server
# iproute2) as extras: the core library and its tests need none of them.
set -euo pipefail
# python3-*: the Python binding (bindings/python) and its tests; numpy is optional at run time (the
# numpy views), tested when present; pip and setuptools install the package (pyproject.toml).
pkgs=(build-essential cmake pkg-config libcmocka-dev strace libuv1-dev
      python3 python3-pytest python3-numpy python3-pip python3-setuptools "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
