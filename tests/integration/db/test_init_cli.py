"""``closedloop init`` creates a database from nothing and upgrades it again safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from closedloop.cli.main import app
from closedloop.settings import get_settings


def test_init_creates_a_fresh_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "sub" / "fresh.db"
    monkeypatch.setenv("CLOSEDLOOP_DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["init", "--json"])
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout)["from"] is None
        second = runner.invoke(app, ["init", "--json"])
        report = json.loads(second.stdout)
        assert report["from"] == report["to"] == json.loads(first.stdout)["to"]
        assert db.exists()
    finally:
        get_settings.cache_clear()
