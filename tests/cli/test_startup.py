"""The command line starts fast: ``closedloop --help`` imports no command, and no command module
loads the heavy libraries (they load inside the commands that use them). Behaviour checks, not
timings: the figures are in docs/benchmarks.md."""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import closedloop.cli
from closedloop.campaigns.models import Campaign
from closedloop.cli.main import COMMANDS, app, load
from closedloop.db.uow import unit_of_work

HEAVY = (
    "pandas",
    "scipy",
    "numpy",
    "statsmodels",
    "sklearn",
    "splink",
    "ibis",
    "plotly",
    "duckdb",
    "pyarrow",
)
runner = CliRunner()


def _loaded_after(code: str, *, whole_names: bool = False) -> set[str]:
    """Run ``code`` in a fresh interpreter; which top-level modules (or, with ``whole_names``,
    which modules) did it load?"""
    tops = "sorted(sys.modules)"
    if not whole_names:
        tops = "sorted({m.split('.')[0] for m in sys.modules})"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({tops}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_and_every_command_loads_no_heavy_library() -> None:
    found = _loaded_after(
        "from closedloop.cli.main import COMMANDS, load\nfor entry in COMMANDS:\n    load(entry)"
    )
    assert "closedloop" in found and "sqlalchemy" in found  # the commands really were loaded
    assert sorted(set(HEAVY) & found) == []


def test_a_light_command_loads_no_heavy_library(engine: object, database_url: str) -> None:
    """``persons list`` opens the store and writes the audit trail with only the models of
    the persons and of the audit trail: no other domain's models or plugins (half of its time
    went there), and none of the heavy libraries."""
    found = _loaded_after(
        "import os, sys\n"
        f"os.environ['CLOSEDLOOP_DATABASE_URL'] = {database_url!r}\n"
        "from closedloop.cli.main import app\n"
        "sys.argv = ['closedloop', 'persons', 'list', '--json']\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code",
        whole_names=True,
    )
    assert {"sqlalchemy", "closedloop.contacts.models", "closedloop.users.models"} <= found
    assert sorted({m.split(".")[0] for m in found} & set(HEAVY)) == []
    models = sorted(m for m in found if m.startswith("closedloop.") and m.endswith("models"))
    assert models == ["closedloop.contacts.models", "closedloop.users.models"]
    assert not any(m.endswith(".hooks") for m in found if m.startswith("closedloop."))


def test_help_imports_no_command_module() -> None:
    found = _loaded_after(
        "import sys\nfrom closedloop.cli.main import app\nsys.argv = ['closedloop', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert "typer" in found
    assert not {"sqlalchemy", "pydantic_settings", *HEAVY} & found


def _real_commands() -> Iterator[tuple[str, Any]]:
    """Every command and group of the tree, loaded, with its path."""

    def walk(path: str, command: Any) -> Iterator[tuple[str, Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(f"{path} {name}", sub)

    for entry in COMMANDS:
        yield from walk(entry.name, load(entry))


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


def test_the_listed_one_line_help_is_each_commands_own() -> None:
    for entry in COMMANDS:
        assert _first_paragraph(load(entry).help or "") == entry.summary, entry.name


def test_every_cli_module_that_registers_commands_is_listed() -> None:
    listed = {entry.module for entry in COMMANDS}
    folder = Path(closedloop.cli.__file__).parent
    for module in pkgutil.iter_modules([str(folder)]):
        source = (folder / f"{module.name}.py").read_text("utf-8")
        if "\ndef register(app" in source:
            assert module.name in listed, f"cli/{module.name}.py is missing from COMMANDS"


#: reStructuredText that help texts must not show: ``literals``, :roles:`…`, `interpreted`,
#: directives, literal-block markers.
RST = re.compile(r"``|:[a-z]+:`|`[^`]+`|^\s*\.\. [a-z-]+::|::\s*$", re.MULTILINE)


def test_help_texts_show_no_restructuredtext_markup() -> None:
    for path, command in _real_commands():
        texts = [command.help or "", command.short_help or ""]
        texts += [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            assert not RST.search(text), f"closedloop {path}: {text!r}"


def test_commands_run_and_typos_are_suggested() -> None:
    listed = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    for entry in COMMANDS:
        assert entry.name in listed.output and entry.summary[:40] in listed.output
    nested = runner.invoke(app, ["jobs", "schedule", "--help"])
    assert nested.exit_code == 0 and "Recurring jobs" in nested.output
    typo = runner.invoke(app, ["persnos", "list"])
    assert typo.exit_code == 2 and "Did you mean 'persons'" in typo.output
    assert isinstance(typer.main.get_command(app), closedloop.cli.main.LazyGroup)


def test_the_campaign_report_loads_the_evaluation_only(
    factory: sessionmaker[Session], database_url: str
) -> None:
    """``campaigns report`` loads the evaluation, not the campaigns command group (the sender,
    extraction…), the segments or the other domains' models and plugins, nor scipy."""
    with unit_of_work(factory) as s:
        campaign = Campaign(code="STARTUP", name="Start-up", currency="EUR")
        s.add(campaign)
        s.flush()
        campaign_id = campaign.id
    found = _loaded_after(
        "import os, sys\n"
        f"os.environ['CLOSEDLOOP_DATABASE_URL'] = {database_url!r}\n"
        "from closedloop.cli.main import app\n"
        f"sys.argv = ['closedloop', 'campaigns', 'report', '{campaign_id}', '--json']\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code",
        whole_names=True,
    )
    assert "closedloop.evaluation.service" in found
    assert sorted({m.split(".")[0] for m in found} & set(HEAVY)) == []
    unwanted = {
        "closedloop.cli.campaigns",
        "closedloop.campaigns.sender",
        "closedloop.segments.service",
        "closedloop.evaluation.loop",
        "closedloop.scoring.models",
    }
    assert sorted(unwanted & found) == []
    assert not any(m.endswith(".hooks") for m in found if m.startswith("closedloop."))
