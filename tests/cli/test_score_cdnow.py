"""CDNOW scored through the product (issue 12, value half): ``closedloop score --as-of
1997-09-30 --window-days 0 --currency USD`` on the CDNOW 1/10 sample. The holdout is scaled
to the 39-week history and runs; BG/NBD gives the paper's parameters; P(alive) comes from a
model that does not call every one-time buyer alive, so "Lost" and "Hibernating" do not read
100 % alive. Orders in USD on a EUR base: the error names --currency and
CLOSEDLOOP_DEFAULT_CURRENCY."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.contacts.models import Person
from closedloop.scoring.cdnow import load_cdnow_transactions
from closedloop.scoring.models import PersonScore
from closedloop.transactions.models import Order

runner = CliRunner()
#: Fader, Hardie & Lee (2005), BG/NBD on CDNOW's 39-week calibration period
PAPER_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture()
def cdnow(engine: Engine) -> None:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None, "lifetimes (dev dependency) is needed"
    days = load_cdnow_transactions(Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt")
    customers = sorted(days["customer_id"].unique(), key=int)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [{"id": int(c), "given_name": f"C{c}", "external_id": c} for c in customers],
        )
        conn.execute(
            insert(Order),
            [
                {
                    "person_id": int(row.customer_id),
                    "external_id": f"{row.customer_id}-{i}",
                    "ordered_at": datetime(row.date.year, row.date.month, row.date.day, 12,
                                           tzinfo=UTC),
                    "total_amount": Decimal(str(round(float(row.spend), 2))),
                    "currency": "USD",
                    "status": "completed",
                }
                for i, row in enumerate(days.itertuples())
            ],
        )  # fmt: skip


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
    for name, published in PAPER_BG.items():
        assert models["bgnbd"]["params"][name] == pytest.approx(published, rel=0.01), name
    assert models["mbgnbd"]["params"]["r"] == pytest.approx(0.525, rel=0.02)
    assert models["p_alive_model"] in ("mbgnbd", "pareto_nbd")
    assert run["summary"]["base_currency"] == "USD"
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
    alive = {segment: (float(mean), float(top)) for segment, mean, top in rows if segment}
    for segment in ("lost", "hibernating"):
        mean, top = alive[segment]
        assert mean < 0.9 and top < 1.0, (segment, alive[segment])
