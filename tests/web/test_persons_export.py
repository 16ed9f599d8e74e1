"""The persons list's export button: what the list shows, for roles that may export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.users.models import AuditEvent


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_export_button_downloads_the_persons_the_list_shows(
    client: TestClient,
    logged_in: Callable[..., TestClient],
    people: dict[str, int],
    factory: sessionmaker[Session],
) -> None:
    logged_in("marketer")
    listed = client.get("/persons", params={"q": "dupont"}).text
    assert 'id="export-list"' in listed and "Export these 1 persons (CSV)" in listed
    assert 'href="/persons/export.csv?q=dupont&amp;status="' in listed
    got = client.get("/persons/export.csv", params={"q": "dupont", "status": ""})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = _rows(got.content)
    assert [r["family_name"] for r in rows] == ["Dupont"]
    assert rows[0]["email"] == "jean.dupont@example.com"
    # The lifecycle filter too; and without a filter, the whole list.
    customers = _rows(client.get("/persons/export.csv", params={"status": "customer"}).content)
    assert [r["family_name"] for r in customers] == ["Dupont"]
    everyone = _rows(client.get("/persons/export.csv").content)
    assert sorted(r["family_name"] for r in everyone) == sorted(people)
    with unit_of_work(factory) as s:
        audits = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
        ).all()
    assert [a.detail["count"] for a in audits] == [1, 1, 3]  # type: ignore[index]
    assert audits[0].detail["filter"] == {"q": "dupont"}  # type: ignore[index]


def test_roles_that_may_not_export_see_no_button_and_are_refused(
    client: TestClient, logged_in: Callable[..., TestClient], people: dict[str, int]
) -> None:
    logged_in("agent")
    assert 'id="export-list"' not in client.get("/persons").text
    assert client.get("/persons/export.csv").status_code == 403
