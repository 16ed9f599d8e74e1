"""``closedloop score``, ``score-runs``, ``rates`` and ``reports``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.transactions.models import Order

runner = CliRunner()
AS_OF = date(2026, 11, 22)


@pytest.fixture()
def buyers(factory: sessionmaker[Session]) -> None:
    rng = np.random.default_rng(21)
    with unit_of_work(factory) as s:
        for i in range(120):
            person = Person(given_name=f"C{i}")
            s.add(person)
            s.flush()
            ago = int(rng.integers(20, 1000))
            while ago > 0:
                day = AS_OF - timedelta(days=ago)
                s.add(
                    Order(
                        person_id=person.id,
                        ordered_at=datetime(day.year, day.month, day.day, 8, tzinfo=UTC),
                        total_amount=Decimal(str(round(float(rng.gamma(3.0, 20.0)) + 1, 2))),
                        currency="EUR",
                    )
                )
                if rng.random() < 0.3:
                    break
                ago -= 1 + int(rng.exponential(rng.gamma(1.0, 70.0)))


def test_score_json_and_runs(buyers: None) -> None:
    result = runner.invoke(
        app,
        ["score", "--as-of", "2026-11-22", "--window-days", "365", "--tiers", "0.1,0.4", "--json"],
    )
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["status"] == "done" and run["params"]["window_days"] == 365
    assert run["params"]["tier_shares"] == [0.1, 0.4]
    assert run["summary"]["buyers"] == 120
    table = runner.invoke(app, ["score-runs"])
    assert table.exit_code == 0 and "done" in table.stdout
    report = runner.invoke(app, ["reports", "value", "--json"])
    assert report.exit_code == 0
    assert json.loads(report.stdout)["run"]["id"] == run["id"]
    text = runner.invoke(app, ["score", "--as-of", "2026-10-01"])
    assert text.exit_code == 0 and "Value tiers" in text.stdout


def test_score_refuses_unknown_currencies_then_converts(
    buyers: None, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as s:
        s.add(
            Order(
                person_id=1,
                ordered_at=datetime(2026, 6, 1, tzinfo=UTC),
                total_amount=Decimal(10),
                currency="CHF",
            )
        )
    refused = runner.invoke(app, ["score", "--as-of", "2026-11-22"])
    assert refused.exit_code == 1
    assert "CHF" in refused.output and "rates set" in refused.output
    assert runner.invoke(app, ["rates", "set", "chf", "1.05"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["rates", "list", "--json"]).stdout)
    assert listed == [{"base": "EUR", "currency": "CHF", "rate": 1.05}]
    ok = runner.invoke(app, ["score", "--as-of", "2026-11-22", "--json"])
    assert ok.exit_code == 0, ok.output


def test_bad_options_are_refused() -> None:
    assert runner.invoke(app, ["score", "--as-of", "22/11/2026"]).exit_code == 2
    assert runner.invoke(app, ["score", "--tiers", "0.7,0.6"]).exit_code == 2


def test_demand_report(buyers: None) -> None:
    result = runner.invoke(app, ["reports", "demand", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["months"]) == 36 and data["cohorts"]
