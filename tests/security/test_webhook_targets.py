"""Webhooks never reach this machine or the internal network unless an admin allows it; and
then the delivery log keeps the status and size of an answer, never its body."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.interfaces import outbox, webhooks
from closedloop.interfaces.models import WebhookAttempt
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.interfaces.targets import is_internal
from closedloop.jobs.service import run_pending

SECRET_REPLY = b'{"internal": "database password is hunter2"}'


@pytest.fixture()
def internal_service() -> Iterator[dict[str, Any]]:
    """An HTTP service on 127.0.0.1 whose answer must never show in the delivery log."""
    seen: dict[str, Any] = {"posts": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen["posts"] += 1
            seen["host"] = self.headers.get("Host")
            self.send_response(200)
            self.send_header("Content-Length", str(len(SECRET_REPLY)))
            self.end_headers()
            self.wfile.write(SECRET_REPLY)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["port"] = server.server_address[1]
    yield seen
    server.shutdown()
    server.server_close()


@pytest.fixture()
def refuse_internal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()
    yield
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()


@pytest.mark.parametrize(
    "address",
    [
        *("127.0.0.1", "10.1.2.3", "172.16.0.5", "192.168.1.1", "169.254.169.254"),
        *("100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"),  # noqa: S104
    ],
)
def test_internal_ranges_are_internal(address: str) -> None:
    import ipaddress

    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.usefixtures("refuse_internal")
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/in",
        "http://localhost:8000/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::1]:8080/x",
        "http://2130706433/x",  # 127.0.0.1 as one number
    ],
)
def test_the_api_refuses_an_internal_url(
    client: TestClient, admin: dict[str, str], url: str
) -> None:
    response = client.post(
        "/api/v1/webhooks", headers=admin, json={"url": url, "event_types": ["person.created"]}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == "url"
    assert "CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS" in problem["detail"]


def test_delivery_checks_the_address_again_and_posts_nothing_inside(
    engine: Engine,
    factory: sessionmaker[Session],
    internal_service: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An endpoint saved while allowed (or a name that resolved elsewhere when saved) is
    checked at each delivery, against what its name resolves to then."""
    url = f"http://localhost:{internal_service['port']}/in"
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_interfaces_settings.cache_clear()
    with unit_of_work(factory) as s:
        endpoint = webhooks.create_endpoint(s, url, ["person.created"])
        outbox.emit(s, "person.created", lambda: [{"id": 1}])
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
    get_interfaces_settings.cache_clear()
    run_pending(engine)
    assert internal_service["posts"] == 0
    with factory() as s:
        attempt = s.scalars(select(WebhookAttempt)).first()
        assert attempt is not None and attempt.status_code is None
        assert attempt.error and attempt.error.startswith("refused: localhost is an internal")
    with unit_of_work(factory) as s, pytest.raises(ValidationFailed):
        webhooks.update_endpoint(s, endpoint.id, url=url)


@pytest.mark.usefixtures("allow_private_webhooks")
def test_an_allowed_internal_target_logs_status_and_size_never_the_body(
    client: TestClient,
    admin: dict[str, str],
    engine: Engine,
    internal_service: dict[str, Any],
    logged_in: Callable[..., TestClient],
) -> None:
    url = f"http://localhost:{internal_service['port']}/in"
    created = client.post(
        "/api/v1/webhooks", headers=admin, json={"url": url, "event_types": ["person.created"]}
    )
    assert created.status_code == 201, created.text
    assert (
        client.post("/api/v1/persons", headers=admin, json={"family_name": "X"}).status_code == 201
    )
    run_pending(engine)
    assert internal_service["posts"] == 1
    assert internal_service["host"] == f"localhost:{internal_service['port']}"
    log = client.get("/api/v1/webhooks/deliveries", headers=admin).json()["items"]
    detail = client.get(f"/api/v1/webhooks/deliveries/{log[0]['id']}", headers=admin).json()
    attempt = detail["attempt_log"][0]
    assert attempt["status_code"] == 200 and attempt["succeeded"]
    assert attempt["response_excerpt"] is None
    assert attempt["response_size"] == len(SECRET_REPLY)
    assert "hunter2" not in json.dumps(detail)
    page = logged_in("admin", "page-admin").get(f"/webhooks/deliveries/{log[0]['id']}")
    assert page.status_code == 200
    assert "hunter2" not in page.text and "body not kept: internal address" in page.text
