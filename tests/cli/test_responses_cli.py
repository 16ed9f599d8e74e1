"""``closedloop responses``: read a mailbox of bounces, list what came back, link (--json)."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

from sqlalchemy import Engine
from tests.integration.responses import samples
from typer.testing import CliRunner

from closedloop.cli.main import app

runner = CliRunner()


def test_read_mailbox_then_list_and_link(engine: Engine, tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "in.mbox")
    box.add(samples.postfix("nobody@example.org", "<not-ours@elsewhere.example>"))
    box.add(samples.MALFORMED[1])
    box.flush()
    read = runner.invoke(app, ["responses", "read-mailbox", str(tmp_path / "in.mbox"), "--json"])
    assert read.exit_code == 0, read.output
    assert json.loads(read.output) == {"bounce": 1, "suppressed": 1, "other": 1}
    listed = runner.invoke(app, ["responses", "list", "--kind", "bounce", "--json"])
    (item,) = json.loads(listed.output)["items"]
    assert item["person_id"] is None and item["detail"]["address"] == "nobody@example.org"
    linked = runner.invoke(app, ["responses", "link", "--json"])
    assert json.loads(linked.output) == {"linked": 0, "applied": 0}
    missing = runner.invoke(app, ["responses", "read-mailbox", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert "no such mbox file" in " ".join(missing.output.split())  # any console width


def test_surveys_create_report_and_link(engine: Engine, tmp_path: Path) -> None:
    spec = {
        "code": "NPS1",
        "title": "Recommend us?",
        "questions": [{"code": "nps", "text": "Would you recommend us?", "kind": "nps"}],
    }
    (tmp_path / "s.json").write_text(json.dumps(spec))
    made = runner.invoke(app, ["surveys", "create", str(tmp_path / "s.json"), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["questions"] == 1
    (tmp_path / "bad.json").write_text(json.dumps(dict(spec, code="X", questions=[])))
    bad = runner.invoke(app, ["surveys", "create", str(tmp_path / "bad.json")])
    assert bad.exit_code == 1 and "questions" in " ".join(bad.output.split())
    report = runner.invoke(app, ["surveys", "report", "NPS1", "--json"])
    assert json.loads(report.output)["questions"][0]["counts"][10] == ["10", 0]
    link = runner.invoke(app, ["surveys", "link", "NPS1", "7"])
    assert "/s/" in link.output
