"""The PostgreSQL suite (`make test-postgres`): a throw-away server for the session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def postgres_server():
    from tests.postgres.server import start

    server = start()
    try:
        yield server
    finally:
        server.stop()
