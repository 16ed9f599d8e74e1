"""``closedloop webhooks``: add (secret printed once), list, deliveries, redeliver, with
``--json``; deliveries sent to a real local HTTP server by the job runner."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.db.uow import unit_of_work
from closedloop.interfaces import outbox
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.interfaces.sync import sync_persons
from closedloop.jobs.service import run_pending

#: The receivers run on 127.0.0.1, an internal address webhooks refuse by default.
pytestmark = pytest.mark.usefixtures("allow_private_webhooks")

runner = CliRunner()


@pytest.fixture()
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE", "[]")
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()
    state: dict[str, Any] = {"codes": [410], "got": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            state["got"] += 1
            self.send_response(state["codes"].pop(0) if state["codes"] else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/in"
    yield state
    server.shutdown()
    server.server_close()
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_list_deliveries_redeliver(
    engine: Engine, factory: sessionmaker[Session], receiver: dict[str, Any]
) -> None:
    added = _json(
        ["webhooks", "add", receiver["url"], "-e", "person.created", "--description", "CRM"]
    )
    assert added["secret"].startswith("whsec_") and added["event_types"] == ["person.created"]
    listed = _json(["webhooks", "list"])
    assert [e["url"] for e in listed] == [receiver["url"]] and "secret" not in listed[0]
    with unit_of_work(factory) as s:
        sync_persons(s, [{"external_id": "C1", "family_name": "Cli"}], source="erp")
    run_pending(engine)
    failed = _json(["webhooks", "deliveries", "--status", "failed"])
    assert failed["total"] == 1 and failed["items"][0]["last_status_code"] == 410
    again = _json(["webhooks", "redeliver", str(failed["items"][0]["id"])])
    assert again["status"] == "pending"
    run_pending(engine)
    done = _json(["webhooks", "deliveries", "--status", "delivered"])
    assert done["total"] == 1 and receiver["got"] == 2
    table = runner.invoke(app, ["webhooks", "deliveries"])
    assert table.exit_code == 0 and "2 deliveries" in table.stdout


@pytest.mark.usefixtures("engine")
def test_bad_input_exits_with_a_clear_message() -> None:
    result = runner.invoke(app, ["webhooks", "add", "https://x.example", "-e", "order.paid"])
    assert result.exit_code == 1 and "order.paid" in result.output
    result = runner.invoke(app, ["webhooks", "redeliver", "999"])
    assert result.exit_code == 1 and "999 does not exist" in result.output


@pytest.mark.usefixtures("engine")
def test_person_unmerged_can_be_subscribed() -> None:
    help_text = runner.invoke(app, ["webhooks", "add", "--help"], terminal_width=200)
    assert "person.unmerged" in " ".join(help_text.stdout.split())
    added = _json(["webhooks", "add", "https://crm.example/in", "-e", "person.unmerged"])
    assert added["event_types"] == ["person.unmerged"]
