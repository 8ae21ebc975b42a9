#!/usr/bin/env bash
# Debian's chromium and chromium-driver for the finance pages' browser test (never a browser a
# test tool downloads itself). Does nothing when both are there.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
exec "$(dirname "$0")/apt-install.sh" chromium chromium-driver
