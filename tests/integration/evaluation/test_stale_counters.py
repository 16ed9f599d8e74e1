"""A report never shows stale funnel counts silently: messages and responses written behind
the sender's and the capture's back (a bulk load, an import of history) are seen by a cheap
check, the funnel is then counted from the rows and the report says so, until
``closedloop evaluation rebuild-counters`` stores the counters again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import wave
from typer.testing import CliRunner

from closedloop.campaigns.ledger import Outcome, record
from closedloop.campaigns.models import Communication
from closedloop.cli.main import app as cli
from closedloop.db.uow import unit_of_work
from closedloop.evaluation import check_counters, evaluate, report_dict
from closedloop.responses.models import Response
from closedloop.vocab import CommunicationStatus as St

runner = CliRunner()


def _report(factory: sessionmaker[Session], campaign_id: int) -> dict[str, Any]:
    with factory() as s:
        return report_dict(evaluate(s, campaign_id))


def _cell(data: dict[str, Any]) -> tuple[int, int, int, int]:
    (cell,) = data["cells"]
    return cell["contacted"], cell["delivered"], cell["opened"], cell["clicked"]


def _rebuild(campaign_id: int) -> None:
    done = runner.invoke(cli, ["evaluation", "rebuild-counters", str(campaign_id)])
    assert done.exit_code == 0, done.output


def test_rows_written_outside_the_sender_and_the_capture_are_counted_and_said(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 6)
        ids = list(
            s.scalars(
                select(Communication.id)
                .where(Communication.wave_id == setup.wave_id)
                .order_by(Communication.person_id)
            )
        )
        record(s, [Outcome(i, St.SENT) for i in ids[:4]])  # the sender's own record
    fresh = _report(factory, setup.campaign_id)
    assert fresh["counters_stale"] is False and _cell(fresh) == (4, 4, 0, 0)
    assert not any("rebuild-counters" in n for n in fresh["notes"])

    # an import of history marks two more messages sent, behind the sender's back
    with unit_of_work(factory) as s:
        s.execute(
            update(Communication)
            .where(Communication.id.in_(ids[4:]))
            .values(status=St.SENT.value, sent_at=datetime.now(UTC) - timedelta(hours=2))
        )
    stale = _report(factory, setup.campaign_id)
    assert stale["counters_stale"] is True and _cell(stale) == (6, 6, 0, 0)
    assert stale["notes"][0].startswith("not final")  # the window is open: said first
    assert f"rebuild-counters {setup.campaign_id}" in stale["notes"][1]
    shown = runner.invoke(cli, ["campaigns", "report", str(setup.campaign_id), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["counters_stale"] is True
    text = runner.invoke(
        cli, ["campaigns", "report", str(setup.campaign_id)], env={"COLUMNS": "300"}
    )
    assert "funnel counters out of date" in " ".join(text.stdout.split())

    _rebuild(setup.campaign_id)
    rebuilt = _report(factory, setup.campaign_id)
    assert rebuilt["counters_stale"] is False and _cell(rebuilt) == (6, 6, 0, 0)
    assert rebuilt["cells"] == stale["cells"] and rebuilt["waves"] == stale["waves"]

    # responses bulk-loaded: an open and a click of one person, a machine's open (not counted)
    with unit_of_work(factory) as s:
        when = datetime.now(UTC) - timedelta(hours=1)
        common = {
            "campaign_id": setup.campaign_id,
            "wave_id": setup.wave_id,
            "cell_id": setup.cell_id,
            "occurred_at": when,
        }
        s.execute(
            insert(Response),
            [
                {**common, "person_id": setup.person_ids[0], "kind": "open"},
                {**common, "person_id": setup.person_ids[0], "kind": "click"},
            ],
        )
    loaded = _report(factory, setup.campaign_id)
    assert loaded["counters_stale"] is True and _cell(loaded) == (6, 6, 1, 1)
    with factory() as s:
        assert {d.column for d in check_counters(s, setup.campaign_id)} == {
            "opened",
            "clicked",
            "responded",
            "responses",
        }
    _rebuild(setup.campaign_id)
    again = _report(factory, setup.campaign_id)
    assert again["counters_stale"] is False and again["cells"] == loaded["cells"]


def test_a_campaign_without_messages_is_not_called_stale(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        setup = wave(s, 2)  # queued only: nothing counted yet, no counter rows
    data = _report(factory, setup.campaign_id)
    assert data["counters_stale"] is False and _cell(data) == (0, 0, 0, 0)
