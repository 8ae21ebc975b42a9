#!/usr/bin/env bash
# Debian's PostgreSQL server binaries for `make test-postgres` (initdb, postgres). Does nothing
# when they are there. The packaged cluster is not used: the tests start a throw-away server.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
    exit 0
fi
exec "$(dirname "$0")/apt-install.sh" postgresql
