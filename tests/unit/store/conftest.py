"""Fixtures for the store tests: one migrated database per test, on SQLite and PostgreSQL.

Tests that take `engine` run twice, ``[sqlite]`` and ``[postgresql]``; the PostgreSQL run
is marked `postgres` and uses a real server started once per session (tests/postgres.py).
Without PostgreSQL those runs skip, unless CI=true, where they fail loudly.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from callflow.store import make_engine, make_sessionmaker, upgrade
from tests.postgres import PostgresServer, PostgresUnavailable, unavailable

TEMPLATE = "callflow_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server with a migrated template database, for the whole session."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    try:
        template_url = server.create_database(TEMPLATE)
        upgrade(template_url)
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    name = f"cf_test_{os.getpid()}_{next(_counter)}"
    url = postgres_server.create_database(name, template=TEMPLATE)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file for one test."""
    path = tmp_path / "callflow.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """URL of a fresh migrated database; the test runs once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on a fresh migrated database, SQLite and PostgreSQL."""
    created = make_engine(db_url)
    yield created
    created.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session in a transaction that the test may commit; closed afterwards."""
    with make_sessionmaker(engine)() as opened:
        yield opened
