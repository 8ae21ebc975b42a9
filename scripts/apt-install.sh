#!/usr/bin/env bash
# Install Debian packages with apt-get, as root or through sudo: scripts/apt-install.sh PACKAGE...
# The package lists are refreshed only when the first attempt fails (a fresh machine's may be
# empty or stale).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "installing $* needs root: apt-get install $*" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "$@" \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "$@"; }
