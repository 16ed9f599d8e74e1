"""No blank RFM segment or P(alive) without a reason (issue 12): a small file with the shapes
that left them empty (a customer whose only order cost 0, a one-time buyer on the as-of
day, a free item next to a purchase), imported and scored with the product's commands. A
person whose orders are only returns has no purchase to score: the CLI says so instead of a
blank."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts.models import Person
from closedloop.scoring.models import PersonScore

runner = CliRunner()
AS_OF = date(2026, 6, 30)


def _orders() -> list[tuple[str, date, str]]:
    """(person, day, amount): 200 ordinary buyers (a BG/NBD-like process: each buys at
    their own rate and may drop out after each purchase), then the shapes under test."""
    rng = np.random.default_rng(7)
    rows: list[tuple[str, date, str]] = []
    for i in range(200):
        rate, drop = rng.gamma(0.8, 1 / 40), rng.beta(1.0, 3.0)
        day = int(rng.integers(120, 700))
        while day > 0:
            rows.append((f"B{i}", AS_OF - timedelta(days=day), f"{rng.gamma(3.0, 15.0) + 1:.2f}"))
            if rng.random() < drop:
                break
            day -= 1 + int(rng.exponential(1 / rate))
    rows += [
        ("ZERO", AS_OF - timedelta(days=200), "0.00"),  # only order cost nothing
        ("ZERO2", AS_OF - timedelta(days=90), "0"),
        ("ZERO2", AS_OF - timedelta(days=20), "0.00"),  # two free orders: a repeat buyer
        ("LASTDAY", AS_OF, "25.00"),  # only purchase on the as-of day itself
        ("SAMPLE", AS_OF - timedelta(days=300), "40.00"),
        ("SAMPLE", AS_OF - timedelta(days=100), "0.00"),  # a free item: a repeat purchase
        ("RETURNS", AS_OF - timedelta(days=10), "-25.00"),  # only a return
        ("REFUNDED", AS_OF - timedelta(days=40), "30.00"),
        ("REFUNDED", AS_OF - timedelta(days=40), "-30.00"),  # refunded the same day
    ]
    return rows


@pytest.fixture()
def shapes(engine: Engine, tmp_path: Path) -> dict[str, int]:
    rows = _orders()
    persons, orders = tmp_path / "persons.csv", tmp_path / "orders.csv"
    names = sorted({person for person, _, _ in rows})
    with persons.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "given_name"])
        out.writerows([name, name.title()] for name in names)
    with orders.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "person_external_id", "ordered_at", "total_amount"])
        out.writerows([f"O{i}", p, d.isoformat(), a] for i, (p, d, a) in enumerate(rows))
    for kind, path in (("persons", persons), ("orders", orders)):
        result = runner.invoke(app, ["import", kind, str(path), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["counts"]["rejected"] == 0, result.output
    with engine.connect() as conn:
        return {ext: pid for pid, ext in conn.execute(select(Person.id, Person.external_id))}


def test_every_buyer_gets_a_segment_and_p_alive(shapes: dict[str, int], engine: Engine) -> None:
    result = runner.invoke(app, ["score", "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["models"]["p_alive_model"] is not None
    with engine.connect() as conn:
        scores = {
            s.person_id: s
            for s in conn.execute(select(PersonScore).where(PersonScore.run_id == run["id"]))
        }
    by_name = {name: scores[pid] for name, pid in shapes.items()}
    without = {"RETURNS", "REFUNDED"}
    for name, s in by_name.items():
        if name in without:
            continue
        assert s.rfm_segment is not None, name
        assert s.p_alive is not None and 0.0 <= s.p_alive <= 1.0, name
        assert s.lifecycle_stage is not None and s.tier is not None, name
    assert by_name["ZERO"].purchase_days == 1 and float(by_name["ZERO"].revenue) == 0.0
    assert by_name["ZERO2"].purchase_days == 2
    assert by_name["SAMPLE"].purchase_days == 2
    assert by_name["LASTDAY"].recency_days == 0
    for name in without:  # nothing was bought: no purchase to score
        assert by_name[name].purchase_days == 0 and by_name[name].rfm_segment is None, name
    assert run["summary"]["buyers"] == len(shapes) - 2
    (unscored,) = run["summary"]["unscored"]
    assert unscored["persons"] == 2 and "rfm_segment" in unscored["fields"]
    assert "only returns" in unscored["reason"]


def test_the_cli_says_why_a_value_is_missing(shapes: dict[str, int]) -> None:
    text = runner.invoke(app, ["score", "--as-of", AS_OF.isoformat()])
    assert text.exit_code == 0, text.output
    flat = " ".join(text.stdout.split())
    assert "2 person(s) without rfm_code, rfm_segment, p_alive" in flat
    assert "orders but no purchase up to the as-of day: only returns" in flat
    report = runner.invoke(app, ["reports", "value", "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["run"]["unscored"][0]["persons"] == 2


def test_no_purchase_model_is_explained(engine: Engine, tmp_path: Path) -> None:
    """One-time buyers only: no model can be identified, so P(alive) cannot exist; the CLI
    names the cause."""
    persons, orders = tmp_path / "p.csv", tmp_path / "o.csv"
    persons.write_text("external_id,given_name\n" + "".join(f"P{i},P\n" for i in range(12)))
    orders.write_text(
        "external_id,person_external_id,ordered_at,total_amount\n"
        + "".join(f"O{i},P{i},{AS_OF - timedelta(days=5 * i + 1)},{10 + i}\n" for i in range(12))
    )
    for kind, path in (("persons", persons), ("orders", orders)):
        assert runner.invoke(app, ["import", kind, str(path)]).exit_code == 0
    text = runner.invoke(app, ["score", "--as-of", AS_OF.isoformat()])
    assert text.exit_code == 0, text.output
    flat = " ".join(text.stdout.split())
    assert "12 person(s) without p_alive" in flat
    assert "no purchase model could be fitted" in flat
