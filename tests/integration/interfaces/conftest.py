"""A real HTTP receiver of webhooks (http.server in a thread), fast retry settings, API
headers, and database rules (triggers) that make the store refuse chosen rows."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from closedloop.interfaces import outbox
from closedloop.interfaces.settings import get_interfaces_settings


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local webhook receiver; ``answers`` is the queue of status codes to answer with
    (then 200), ``requests`` what it received."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)


@pytest.fixture()
def receiver(allow_private_webhooks: None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (so webhooks are let reach internal addresses)."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            state.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            code = state.answers.pop(0) if state.answers else 200
            reply = json.dumps({"ok": code < 300, "echo": len(body)}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries at once (the schedule's length is what matters) and a short timeout."""
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE", "[0, 0, 0]")
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_TIMEOUT_SECONDS", "2")
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()
    yield
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()


@pytest.fixture()
def refuse(engine: Engine, session: Session) -> Iterator[Callable[..., None]]:
    """``refuse(table, condition, errcode="check_violation")``: a trigger makes the database
    refuse any row of ``table`` written with ``condition`` true (the new row's columns are
    ``NEW.column``). On PostgreSQL the error has ``errcode`` (``raise_exception``: a plain
    ``RAISE EXCEPTION``); SQLite's ``RAISE(ABORT)`` is always a constraint error. Dropped
    after the test (the test's session is closed first: on PostgreSQL its open transaction
    would block the DROP)."""
    made: list[str] = []
    sqlite = engine.dialect.name == "sqlite"

    def make(table: str, condition: str, errcode: str = "check_violation") -> None:
        name = f"refuse_{table}"
        message = f"refused by a rule of the test database on {table}"
        with engine.begin() as conn:
            if sqlite:
                for op in ("INSERT", "UPDATE"):
                    conn.exec_driver_sql(
                        f"CREATE TRIGGER {name}_{op.lower()} BEFORE {op} ON {table} "
                        f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{message}'); END"
                    )
            else:
                conn.exec_driver_sql(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF {condition} THEN RAISE EXCEPTION '{message}' "
                    f"USING ERRCODE = '{errcode}'; END IF; RETURN NEW; END $$"
                )
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
        made.append(table)

    yield make
    session.close()
    with engine.begin() as conn:
        for table in made:
            name = f"refuse_{table}"
            if sqlite:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}_insert")
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}_update")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


@pytest.fixture()
def api_headers(make_token: Callable[..., str]) -> dict[str, str]:
    """Headers of an admin's API token."""
    return {"Authorization": f"Bearer {make_token('sync-admin', 'admin')}"}
