"""``closedloop persons``: list with filters (table and JSON) and show a person's card."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts import service
from closedloop.contacts.schemas import PersonCreate
from closedloop.transactions.models import Order
from closedloop.users.models import AuditEvent

runner = CliRunner()


@pytest.fixture()
def people(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as s:
        ids = {}
        for data in (
            {
                "given_name": "Ana",
                "family_name": "Ștefănescu",
                "emails": [{"address": "ana@example.ro"}],
                "phones": [{"number": "+40721234567"}],
                "addresses": [{"postal_code": "010011", "locality": "București", "country": "RO"}],
            },
            {"given_name": "伟", "family_name": "王", "addresses": [{"country": "CN"}]},
            {"given_name": "Jean", "family_name": "Dupont", "lifecycle_status": "customer"},
        ):
            person = service.create_person(s, PersonCreate.model_validate(data))
            ids[str(data["family_name"])] = person.id
        s.add(
            Order(
                person_id=ids["Ștefănescu"],
                ordered_at=datetime(2026, 5, 1, tzinfo=UTC),
                total_amount=Decimal("49.90"),
                currency="RON",
            )
        )
        s.commit()
    return ids


def test_list_json_and_filters(people: dict[str, int]) -> None:
    result = runner.invoke(app, ["persons", "list", "--json"])
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    assert page["total"] == 3
    assert [p["family_name"] for p in page["items"]] == ["Dupont", "Ștefănescu", "王"]
    found = json.loads(
        runner.invoke(app, ["persons", "list", "--q", "stefanescu", "--json"]).stdout
    )
    assert [p["id"] for p in found["items"]] == [people["Ștefănescu"]]
    assert found["items"][0]["email"] == "ana@example.ro"
    assert found["items"][0]["phone"] == "+40721234567"
    found = json.loads(runner.invoke(app, ["persons", "list", "-q", "王伟", "--json"]).stdout)
    assert [p["id"] for p in found["items"]] == [people["王"]]
    found = json.loads(
        runner.invoke(app, ["persons", "list", "--lifecycle-status", "customer", "--json"]).stdout
    )
    assert [p["family_name"] for p in found["items"]] == ["Dupont"]
    limited = json.loads(runner.invoke(app, ["persons", "list", "--limit", "1", "--json"]).stdout)
    assert len(limited["items"]) == 1 and limited["total"] == 3


def test_list_table(people: dict[str, int]) -> None:
    result = runner.invoke(app, ["persons", "list", "--country", "RO"])
    assert result.exit_code == 0, result.output
    assert "Ștefănescu" in result.stdout
    assert "Dupont" not in result.stdout
    assert "1 person(s)" in result.stdout


def test_show_json_and_summary(people: dict[str, int], factory: sessionmaker[Session]) -> None:
    pid = people["Ștefănescu"]
    result = runner.invoke(app, ["persons", "show", str(pid), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["person"]["family_name"] == "Ștefănescu"
    assert card["person"]["emails"][0]["address"] == "ana@example.ro"
    assert card["order_summary"]["count"] == 1
    assert card["order_summary"]["revenue"] == "49.90"
    assert card["orders"][0]["currency"] == "RON"
    assert {"consents", "scores", "tasks", "communications"} <= set(card)

    summary = runner.invoke(app, ["persons", "show", str(pid)])
    assert summary.exit_code == 0, summary.output
    assert "Ana Ștefănescu" in summary.stdout
    assert "ana@example.ro" in summary.stdout
    assert "Orders: 1" in summary.stdout

    with factory() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["view_card", "view_card"]


@pytest.mark.usefixtures("engine")
def test_show_unknown_person() -> None:
    result = runner.invoke(app, ["persons", "show", "4242"])
    assert result.exit_code == 1
    assert "Person 4242 does not exist" in result.output
