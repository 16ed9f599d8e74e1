"""``/api/v1/webhooks``: endpoints CRUD (secret shown once), the delivery log with filters,
delivery detail with attempts, redelivery; admins only. Deliveries go to a real local
HTTP receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from closedloop.interfaces import outbox
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.jobs.service import run_pending

#: The receivers run on 127.0.0.1, an internal address webhooks refuse by default.
pytestmark = pytest.mark.usefixtures("allow_private_webhooks")

HOOKS = "/api/v1/webhooks"


@pytest.fixture()
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A local HTTP server answering the codes in ``state["answers"]`` (then 200)."""
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE", "[0]")
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()
    state: dict[str, Any] = {"answers": [], "bodies": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state["bodies"].append(self.rfile.read(int(self.headers["Content-Length"])))
            code = state["answers"].pop(0) if state["answers"] else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no" if code >= 300 else b"ok")

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


def test_endpoint_crud_and_secret_shown_once(client: TestClient, admin: dict[str, str]) -> None:
    created = client.post(
        HOOKS,
        json={
            "url": "https://erp.example/hooks",
            "event_types": ["person.created", "consent.changed"],
            "description": "ERP",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    eid = endpoint["id"]
    read = client.get(f"{HOOKS}/{eid}", headers=admin).json()
    assert "secret" not in read and read["event_types"] == ["person.created", "consent.changed"]
    assert all("secret" not in e for e in client.get(HOOKS, headers=admin).json())
    off = client.patch(f"{HOOKS}/{eid}", json={"is_active": False}, headers=admin).json()
    assert off["is_active"] is False and off["url"] == "https://erp.example/hooks"
    rotated = client.post(f"{HOOKS}/{eid}/rotate-secret", headers=admin).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    assert client.delete(f"{HOOKS}/{eid}", headers=admin).status_code == 204
    assert client.get(f"{HOOKS}/{eid}", headers=admin).status_code == 404


def test_bad_endpoints_are_refused(client: TestClient, admin: dict[str, str]) -> None:
    bad_url = client.post(
        HOOKS, json={"url": "ftp://x", "event_types": ["person.created"]}, headers=admin
    )
    assert bad_url.status_code == 422 and bad_url.json()["errors"][0]["field"] == "url"
    bad_type = client.post(
        HOOKS, json={"url": "https://x.example", "event_types": ["order.paid"]}, headers=admin
    )
    assert bad_type.status_code == 422 and "order.paid" in bad_type.json()["detail"]


def test_only_admins(client: TestClient, auth: Any) -> None:
    marketer = auth("marketer")
    assert client.get(HOOKS, headers=marketer).status_code == 403
    assert client.get(f"{HOOKS}/deliveries", headers=marketer).status_code == 403


def test_delivery_log_detail_and_redeliver(
    client: TestClient, admin: dict[str, str], engine: Engine, receiver: dict[str, Any]
) -> None:
    receiver["answers"] = [500, 502]
    eid = client.post(
        HOOKS, json={"url": receiver["url"], "event_types": ["person.created"]}, headers=admin
    ).json()["id"]
    person = client.post(
        "/api/v1/sync/persons?source=erp",
        json={"external_id": "W1", "family_name": "Hook"},
        headers=admin,
    )
    assert person.status_code == 201
    run_pending(engine)
    failed = client.get(f"{HOOKS}/deliveries", params={"status": "failed"}, headers=admin).json()
    assert failed["total"] == 1
    delivery = failed["items"][0]
    assert delivery["endpoint_id"] == eid and delivery["event_type"] == "person.created"
    detail = client.get(f"{HOOKS}/deliveries/{delivery['id']}", headers=admin).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 502]
    # The receiver is on 127.0.0.1: the log keeps the answer's size, never its body.
    assert detail["attempt_log"][0]["response_excerpt"] is None
    assert detail["attempt_log"][0]["response_size"] == len("no")
    assert detail["body"]["data"]["external_id"] == "W1"
    again = client.post(f"{HOOKS}/deliveries/{delivery['id']}/redeliver", headers=admin)
    assert again.status_code == 202 and again.json()["status"] == "pending"
    run_pending(engine)
    done = client.get(f"{HOOKS}/deliveries", params={"status": "delivered"}, headers=admin).json()
    assert done["total"] == 1 and done["items"][0]["event_id"] == delivery["event_id"]
    assert json.loads(receiver["bodies"][-1])["id"] == delivery["event_id"]
    none = client.get(
        f"{HOOKS}/deliveries", params={"event_type": "consent.changed"}, headers=admin
    ).json()
    assert none["total"] == 0
    bad = client.get(f"{HOOKS}/deliveries", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 422
