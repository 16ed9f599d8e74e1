"""Test fixtures: a real database (SQLite file by default, PostgreSQL when
CLOSEDLOOP_TEST_DATABASE_URL is set), migrated once per session and emptied after each test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

# Each xdist worker runs one test at a time: one OpenMP thread each (scikit-learn's boosting
# otherwise starts one per core in every worker, and the workers fight over the cores).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# argon2's default profile costs about 0.1 s of two cores per hash and per login; a suite that
# makes a user and logs in for most tests uses the test profile (subprocesses inherit it).
os.environ.setdefault("CLOSEDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from closedloop.asgi import create_app
from closedloop.bootstrap import engine_for, metadata
from closedloop.db.uow import session_factory, unit_of_work
from closedloop.interfaces import outbox
from closedloop.migrations import upgrade
from closedloop.settings import get_settings
from closedloop.users import service as users_service
from closedloop.vocab import Role


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """On PostgreSQL, leave out ``tests/unit``: those tests touch no store (none of them takes
    a database fixture), so they give on PostgreSQL exactly what they gave on SQLite, and CI
    runs the suite on both. ``--unit-too`` keeps them."""
    if not os.environ.get("CLOSEDLOOP_TEST_DATABASE_URL") or config.getoption("unit_too"):
        return None
    unit = Path(__file__).parent / "unit"
    return collection_path == unit or None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--unit-too",
        action="store_true",
        help="also run tests/unit when CLOSEDLOOP_TEST_DATABASE_URL is set",
    )


def _test_url(tmp_dir: Path) -> str:
    url = os.environ.get("CLOSEDLOOP_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url and worker:  # pytest -n: each worker gets its own PostgreSQL database
        return _worker_database(url, worker)
    return url or f"sqlite:///{tmp_dir / 'test.db'}"


def _worker_database(url: str, worker: str) -> str:
    """``…/test`` → ``…/test_gw0``, created on first use (the server trusts local users)."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if found is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the test store; exported as CLOSEDLOOP_DATABASE_URL for code under test."""
    url = _test_url(tmp_path_factory.mktemp("db"))
    secret_dir = tmp_path_factory.mktemp("secret")
    old = {k: os.environ.get(k) for k in ("CLOSEDLOOP_DATABASE_URL", "CLOSEDLOOP_SECRET_KEY")}
    os.environ["CLOSEDLOOP_DATABASE_URL"] = url
    os.environ["CLOSEDLOOP_SECRET_KEY"] = "test-secret-" + secret_dir.name
    get_settings.cache_clear()
    yield url
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Engine:
    """The test store at the latest schema; PostgreSQL's schema is recreated first."""
    engine = engine_for(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    return engine


def _empty_all_tables(engine: Engine) -> None:
    # DELETE rather than TRUNCATE on PostgreSQL too: the tables hold a few rows, and TRUNCATE
    # of 77 tables costs about 0.25 s a test (new files for each), DELETE about 0.06 s.
    tables = [t.name for t in reversed(metadata().sorted_tables)]
    with engine.begin() as conn:
        # Categories point to their parent with RESTRICT: cut the tree first.
        conn.execute(text("UPDATE product_categories SET parent_id = NULL"))
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if engine.dialect.name == "postgresql":
            sequences = conn.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).scalars()
            for sequence in list(sequences):
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
        elif conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))
    # The webhook subscriptions are cached per database URL for a few seconds: a test that
    # created endpoint 1 must not leave the next test delivering to a row that is gone.
    outbox.clear_cache()


@pytest.fixture()
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated test store; every table is emptied after the test."""
    yield migrated_engine
    _empty_all_tables(migrated_engine)


@pytest.fixture()
def factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test store."""
    return session_factory(engine)


@pytest.fixture()
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the test store; the test commits what it wants stored."""
    with factory() as s:
        yield s


@pytest.fixture()
def app(engine: Engine) -> FastAPI:
    """The ASGI app on the test store."""
    return create_app()


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client talking to the app in-process (cookies kept between requests)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def make_user(factory: sessionmaker[Session]) -> Callable[..., str]:
    """Create a user with a role; returns the username. Password is ``<username>-password1``."""

    def make(username: str = "admin", role: str = "admin", **kw: object) -> str:
        with unit_of_work(factory) as s:
            users_service.create_user(s, username, f"{username}-password1", Role(role), **kw)  # type: ignore[arg-type]
        return username

    return make


@pytest.fixture()
def make_token(factory: sessionmaker[Session], make_user: Callable[..., str]) -> Callable[..., str]:
    """Create a user with a role and an API token for them; returns the plain token."""

    def make(username: str = "api", role: str = "admin") -> str:
        make_user(username, role)
        with unit_of_work(factory) as s:
            return users_service.create_api_token(s, username, "tests")

    return make


@pytest.fixture()
def allow_private_webhooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let webhooks reach the tests' receivers on 127.0.0.1 (refused by default)."""
    from closedloop.interfaces.settings import get_interfaces_settings

    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_interfaces_settings.cache_clear()
    yield
    get_interfaces_settings.cache_clear()
