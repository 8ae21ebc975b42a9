#!/usr/bin/env bash
# Debian's PostgreSQL server binaries for `make test-postgres` (initdb, postgres). Does nothing
# when they are there. The packaged cluster is not used: the tests start a throw-away server.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "PostgreSQL is missing and installing it needs root: apt-get install postgresql" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends postgresql \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends postgresql; }
