"""``closedloop evaluation report|segment`` on a planted campaign, with ``--json``."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.evaluation.plant import Arm, plant
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.segments import SegmentMember

runner = CliRunner()


def _planted(factory: sessionmaker[Session]) -> tuple[int, set[int], set[int]]:
    with factory() as session:
        p = plant(
            session, [Arm("A", 800, 0.25, click_rate=0.2), Arm("CTL", 800, 0.1, is_control=True)]
        )
        session.commit()
        return p.campaign_id, p.buyers["A"], set(p.members["A"])


def test_report_json_and_table(
    engine: Engine, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe's width: no table cut
    campaign_id, buyers, _ = _planted(factory)
    result = runner.invoke(app, ["campaigns", "report", str(campaign_id), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rule"] == "last-touch" and data["final"] is True
    assert data["verdict"].startswith("the campaign worked")
    cell = next(c for c in data["cells"] if not c["is_control"])
    assert cell["converted"] == len(buyers) and cell["members"] == 800
    assert cell["lift"]["conversion"]["significant"] is True
    args = ["evaluation", "report", str(campaign_id), "--rule", "linear"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "Verdict: the campaign worked" in table.stdout and "attribution linear" in table.stdout
    assert "Cell A" in table.stdout and "control" in table.stdout


def test_bad_rule_and_unknown_campaign_are_named(engine: Engine) -> None:
    bad = runner.invoke(app, ["evaluation", "report", "1", "--rule", "u-shaped"])
    assert bad.exit_code == 1 and "Unknown attribution rule 'u-shaped'" in bad.stderr
    missing = runner.invoke(app, ["evaluation", "report", "424242"])
    assert missing.exit_code == 1 and "Campaign 424242 does not exist" in missing.stderr


def test_responders_and_non_responders_become_segments(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    campaign_id, _, treated = _planted(factory)
    made = {}
    for group in ("responders", "non-responders"):
        result = runner.invoke(
            app,
            [
                "evaluation",
                "segment",
                str(campaign_id),
                "--group",
                group,
                "--name",
                f"Spring {group}",
                "--json",
            ],
        )
        assert result.exit_code == 0, result.output
        made[group] = json.loads(result.stdout)
    with factory() as session:
        members = {
            g: set(
                session.scalars(
                    select(SegmentMember.person_id).where(SegmentMember.segment_id == d["id"])
                )
            )
            for g, d in made.items()
        }
    assert members["responders"] and members["non-responders"]
    assert not members["responders"] & members["non-responders"]
    assert members["responders"] | members["non-responders"] == treated
    assert made["responders"]["origin"]["group"] == "responders"
    bad = runner.invoke(
        app,
        [
            "evaluation",
            "segment",
            str(campaign_id),
            "--group",
            "cell",
            "--name",
            "x",
            "--cell",
            "ZZ",
        ],
    )
    assert bad.exit_code == 1 and "has no cell 'ZZ'" in bad.stderr
