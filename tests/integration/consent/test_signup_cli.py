"""``closedloop signup-forms create|list``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from closedloop.cli.main import app

runner = CliRunner()
PROOF = "Yes, email me the book news; I can withdraw at any time."


@pytest.mark.usefixtures("engine")
def test_create_then_list() -> None:
    created = runner.invoke(
        app,
        [
            "signup-forms",
            "create",
            "books",
            "--title",
            "Book news",
            "--topic",
            "newsletter:Book news",
            "--topic",
            "events",
            "--channel",
            "email",
            "--channel",
            "sms",
            "--proof-text",
            PROOF,
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    form = json.loads(created.stdout)
    assert form["public_url"].endswith("/signup/books")
    assert form["topics"] == [
        {"code": "book-news", "label": "Book news", "purpose": "newsletter"},
        {"code": "events", "label": "Events", "purpose": "events"},
    ]
    listed = runner.invoke(app, ["signup-forms", "list", "--json"])
    assert [f["slug"] for f in json.loads(listed.stdout)] == ["books"]
    table = runner.invoke(app, ["signup-forms", "list"])
    assert table.exit_code == 0 and "books" in table.stdout


@pytest.mark.usefixtures("engine")
def test_bad_input_names_the_field_and_stores_nothing() -> None:
    result = runner.invoke(
        app,
        [
            "signup-forms",
            "create",
            "Bad Slug",
            "--title",
            "T",
            "--topic",
            "weather",
            "--proof-text",
            PROOF,
            "--body",
            "no link",
        ],
    )
    assert result.exit_code == 1
    assert "slug" in result.stderr and "confirm_body" in result.stderr
    assert "topics.0.purpose" in result.stderr
    listed = runner.invoke(app, ["signup-forms", "list", "--json"])
    assert json.loads(listed.stdout) == []
