"""``closedloop init`` and database commands."""

from __future__ import annotations

import typer

from closedloop.bootstrap import get_engine
from closedloop.cli._common import JsonOption, console, print_json
from closedloop.migrations import current_revision, upgrade


def init(json_output: bool = JsonOption) -> None:
    """Create the database, or upgrade it to the latest schema (safe to run again)."""
    engine = get_engine()
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if json_output:
        print_json({"database": url, "from": before, "to": after})
        return
    if before == after:
        console.print(f"Database {url} is up to date (revision {after}).")
    else:
        console.print(f"Database {url} upgraded from {before or 'empty'} to {after}.")


def register(app: typer.Typer) -> None:
    """Attach the database commands to the main app."""
    app.command("init")(init)
