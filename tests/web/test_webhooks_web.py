"""The webhook pages: endpoints (create with the secret shown once, edit, disable, rotate),
the delivery log with filters, a delivery's body and attempts, redelivery; admins only."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from closedloop.db.uow import session_factory, unit_of_work
from closedloop.interfaces import outbox
from closedloop.interfaces.models import WebhookDelivery, WebhookEndpoint
from closedloop.interfaces.settings import get_interfaces_settings
from closedloop.interfaces.sync import sync_persons
from closedloop.jobs.service import run_pending

from .conftest import csrf_from

#: The receivers run on 127.0.0.1, an internal address webhooks refuse by default.
pytestmark = pytest.mark.usefixtures("allow_private_webhooks")


@pytest.fixture()
def receiver_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local receiver that refuses the first request (500) and accepts the others."""
    monkeypatch.setenv("CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE", "[]")
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()
    calls: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(1)
            self.send_response(500 if len(calls) == 1 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/in"
    server.shutdown()
    server.server_close()
    get_interfaces_settings.cache_clear()
    outbox.clear_cache()


def _create(client: TestClient, url: str, *types: str) -> Any:
    token = csrf_from(client.get("/webhooks").text)
    return client.post(
        "/webhooks",
        data={"csrf_token": token, "url": url, "description": "CRM", "event_types": list(types)},
    )


def test_admin_adds_an_endpoint_and_sees_the_secret_once(
    logged_in: Callable[..., TestClient], session: Session
) -> None:
    client = logged_in("admin")
    page = _create(client, "https://crm.example/in", "person.created", "consent.changed")
    assert page.status_code == 200
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.secret in page.text and "shown this once" in page.text
    assert endpoint.event_types == ["person.created", "consent.changed"]
    listing = client.get("/webhooks").text
    assert "https://crm.example/in" in listing and endpoint.secret not in listing
    detail = client.get(f"/webhooks/{endpoint.id}").text
    assert endpoint.secret not in detail
    rotated = client.post(f"/webhooks/{endpoint.id}/rotate", data={"csrf_token": csrf_from(detail)})
    session.refresh(endpoint)
    assert endpoint.secret in rotated.text and endpoint.previous_secret is not None


def test_invalid_endpoint_form_names_the_problem(logged_in: Callable[..., TestClient]) -> None:
    client = logged_in("admin")
    page = _create(client, "not a url", "person.created")
    assert (
        page.status_code == 422 and "starts with http:// or https:// and names a host" in page.text
    )
    assert 'value="not a url"' in page.text  # what was typed stays in the form
    page = _create(client, "https://crm.example/in")
    assert page.status_code == 422 and "Choose at least one event type" in page.text


def test_a_french_page_explains_the_problem_in_french(
    logged_in: Callable[..., TestClient],
) -> None:
    client = logged_in("admin", locale="fr")
    page = _create(client, "ftp://crm.example/in", "person.created")
    assert page.status_code == 422
    assert "Saisissez une adresse web qui commence par http:// ou https://" in page.text
    page = _create(client, "https://crm.example/in")
    assert "Choisissez au moins un type d’événement" in page.text
    assert "no event type" not in page.text


def test_edit_and_disable(logged_in: Callable[..., TestClient], session: Session) -> None:
    client = logged_in("admin")
    _create(client, "https://crm.example/in", "person.created")
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    page = client.get(f"/webhooks/{endpoint.id}").text
    saved = client.post(
        f"/webhooks/{endpoint.id}",
        data={
            "csrf_token": csrf_from(page),
            "url": "https://crm.example/v2",
            "description": "v2",
            "event_types": ["person.updated"],
            "is_active": "on",
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "The endpoint was saved." in saved.text
    toggled = client.post(
        f"/webhooks/{endpoint.id}/toggle",
        data={"csrf_token": csrf_from(saved.text)},
        follow_redirects=True,
    )
    assert "The endpoint is disabled." in toggled.text
    session.refresh(endpoint)
    assert (endpoint.url, endpoint.event_types, endpoint.is_active) == (
        "https://crm.example/v2",
        ["person.updated"],
        False,
    )


def test_other_roles_are_refused(logged_in: Callable[..., TestClient]) -> None:
    client = logged_in("marketer")
    assert client.get("/webhooks").status_code == 403
    assert client.get("/webhooks/deliveries").status_code == 403
    assert "/webhooks" not in client.get("/").text


def test_delivery_log_detail_and_redeliver(
    logged_in: Callable[..., TestClient], engine: Engine, session: Session, receiver_url: str
) -> None:
    client = logged_in("admin")
    _create(client, receiver_url, "person.created")
    with unit_of_work(session_factory(engine)) as s:
        sync_persons(s, [{"external_id": "W9", "family_name": "Weblog"}], source="erp")
    run_pending(engine)
    log = client.get("/webhooks/deliveries?status=failed")
    assert log.status_code == 200
    ids = re.findall(r'href="/webhooks/deliveries/(\d+)"', log.text)
    assert len(ids) == 1
    assert "person.created" in log.text
    empty = client.get("/webhooks/deliveries?event_type=consent.changed").text
    assert "No delivery." in empty
    detail = client.get(f"/webhooks/deliveries/{ids[0]}")
    assert "Weblog" in detail.text and "HTTP 500" in detail.text
    again = client.post(
        f"/webhooks/deliveries/{ids[0]}/redeliver",
        data={"csrf_token": csrf_from(detail.text)},
        follow_redirects=True,
    )
    assert "The event was queued again." in again.text
    run_pending(engine)
    session.expire_all()
    statuses = [
        d.status for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
    ]
    assert statuses == ["failed", "delivered"]
    french = client.get("/webhooks", headers={"Accept-Language": "fr"})
    assert french.status_code == 200


def test_the_form_offers_person_unmerged(
    logged_in: Callable[..., TestClient], session: Session
) -> None:
    client = logged_in("admin")
    assert 'value="person.unmerged"' in client.get("/webhooks").text
    page = _create(client, "https://crm.example/in", "person.unmerged")
    assert page.status_code == 200
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.event_types == ["person.unmerged"]
