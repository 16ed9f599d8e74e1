"""A real HTTP receiver of webhooks (http.server in a thread) and fast retry settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
def receiver() -> Iterator[Receiver]:
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
