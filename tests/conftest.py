"""Shared pytest setup. Nothing heavy runs unless a test asks for it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `import librechat_metrics` / `tests.support` also under a bare `pytest`
    sys.path.insert(0, str(ROOT))

from tests.support.mongo import MongoServer, start_mongoeco  # noqa: E402


@pytest.fixture
def mongoeco() -> Iterator[Callable[..., MongoServer]]:
    """Factory: mongoeco(collections, port=None) starts a served mongoeco; all are stopped afterwards."""
    servers: list[MongoServer] = []

    def start(collections: dict[str, list[dict]] | None = None, port: int | None = None) -> MongoServer:
        servers.append(start_mongoeco(collections, port))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
