"""CDNOW scored through the product (issue 12, value half): the log imported with
``closedloop import persons`` and ``import orders``, then ``closedloop score --as-of
1997-09-30 --window-days 0 --currency USD`` on the CDNOW 1/10 sample. The holdout is scaled
to the 39-week history and runs; BG/NBD gives the paper's parameters; P(alive) comes from a
model that does not call every one-time buyer alive, so "Lost" and "Hibernating" do not read
100 % alive. Every customer gets an RFM segment and a P(alive), the eight whose only CD
cost $0 included. Orders in USD on a EUR base: the error names --currency and
CLOSEDLOOP_DEFAULT_CURRENCY."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts.models import Person
from closedloop.scoring.models import PersonScore
from closedloop.transactions.models import Order

runner = CliRunner()
#: Fader, Hardie & Lee (2005), BG/NBD on CDNOW's 39-week calibration period
PAPER_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture()
def cdnow(engine: Engine, tmp_path: Path) -> None:
    """The CDNOW 1/10 sample as a user imports it: a persons file and an orders file (one
    order in USD per line of the log: 6,919 orders, 8 of them at $0, real CD purchases the
    BTYD papers count), through ``closedloop import``."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None, "lifetimes (dev dependency) is needed"
    log = Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt"
    lines = [line.split() for line in log.read_text().splitlines() if line.strip()]
    customers = sorted({line[0] for line in lines}, key=int)
    persons, orders = tmp_path / "persons.csv", tmp_path / "orders.csv"
    with persons.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "given_name"])
        out.writerows([c, f"C{c}"] for c in customers)
    with orders.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["external_id", "person_external_id", "ordered_at", "total_amount", "currency"]
        )
        for i, (customer, _sample, day, _cds, dollars) in enumerate(lines):
            ordered = f"{day[:4]}-{day[4:6]}-{day[6:]}"
            out.writerow([f"{customer}-{i}", customer, ordered, dollars, "USD"])
    for kind, path in (("persons", persons), ("orders", orders)):
        result = runner.invoke(app, ["import", kind, str(path), "--json"])
        assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Person)).scalar_one() == 2357
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 6919


def test_cdnow_through_the_score_command(cdnow: None, engine: Engine) -> None:
    command = ["score", "--as-of", "1997-09-30", "--window-days", "0"]
    refused = runner.invoke(app, command)
    assert refused.exit_code == 1
    assert "--currency USD" in refused.output
    assert "CLOSEDLOOP_DEFAULT_CURRENCY" in refused.output
    result = runner.invoke(app, [*command, "--currency", "USD", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    models = run["models"]
    holdout = models["holdout"]
    assert "skipped" not in holdout, holdout
    assert holdout["holdout_days"] == 90  # a third of the 272-day history
    assert holdout["calibration_end"] == "1997-07-02"
    for name, published in PAPER_BG.items():  # every customer counted, as in the paper
        assert models["bgnbd"]["params"][name] == pytest.approx(published, rel=0.002), name
    assert models["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert models["mbgnbd"]["params"]["r"] == pytest.approx(0.525, rel=0.02)
    assert models["p_alive_model"] in ("mbgnbd", "pareto_nbd")
    assert run["summary"]["base_currency"] == "USD"
    assert run["summary"]["buyers"] == 2357 and run["summary"]["unscored"] == []
    with engine.connect() as conn:
        blanks = conn.execute(
            select(func.count())
            .select_from(PersonScore)
            .where(
                PersonScore.run_id == run["id"],
                (PersonScore.rfm_segment.is_(None)) | (PersonScore.p_alive.is_(None)),
            )
        ).scalar_one()  # fmt: skip
        stored = conn.execute(
            select(func.count()).select_from(PersonScore).where(PersonScore.run_id == run["id"])
        ).scalar_one()
    assert (stored, blanks) == (2357, 0)  # the 8 customers of a $0 CD included
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                PersonScore.rfm_segment,
                func.avg(PersonScore.p_alive),
                func.max(PersonScore.p_alive),
            )
            .where(PersonScore.run_id == run["id"])
            .group_by(PersonScore.rfm_segment)
        ).all()  # fmt: skip
    alive = {segment: (float(mean), float(top)) for segment, mean, top in rows}
    for segment in ("lost", "hibernating"):
        mean, top = alive[segment]
        assert mean < 0.9 and top < 1.0, (segment, alive[segment])
