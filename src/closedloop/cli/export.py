"""``closedloop export``: a table (or the persons list) to CSV, Excel or Parquet, or a person's
full data as JSON (right of access). Every export is audited."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.text import Text

from closedloop.bootstrap import get_engine
from closedloop.cli._common import console, err_console, session_scope
from closedloop.errors import DomainError
from closedloop.exports.person import person_document
from closedloop.exports.tables import export_table
from closedloop.users.service import audit


def _fail(exc: DomainError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc.detail}", highlight=False)
    for item in exc.errors:
        err_console.print(
            Text(f"  - {item.get('field', '')}: {item.get('message', '')}"), highlight=False
        )
    return typer.Exit(code=1)


def export(
    what: str = typer.Argument(..., help="A table name, 'persons' (flattened) or 'person'."),
    target: str = typer.Argument(..., help="The output file; for 'person', the person's id."),
    file: Path | None = typer.Argument(None, help="For 'person': the JSON output file."),
    fmt: str | None = typer.Option(
        None, "--format", help="csv, xlsx or parquet (default: from the file name)."
    ),
) -> None:
    """Export a table (or the persons list) to CSV, Excel or Parquet, or a person's full data
    as JSON (right of access), e.g. closedloop export person 42 person-42.json.

    Text cells that a spreadsheet would run as formulas get a leading apostrophe.
    """
    try:
        if what == "person":
            if file is None or not target.isdigit():
                raise typer.BadParameter("use: closedloop export person ID FILE")
            with session_scope() as session:
                doc = person_document(session, int(target))
                audit(session, None, "export", "person", int(target), channel="cli")
            file.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str), "utf-8")
            console.print(f"Person {target}: everything stored written to {file}.")
            return
        path = Path(target)
        count = export_table(get_engine(), what, path, fmt)
        with session_scope() as session:
            audit(session, None, "export", what, channel="cli", detail={"rows": count})
    except DomainError as exc:
        raise _fail(exc) from exc
    console.print(f"{count:,} rows of {what} written to {path}.")


def register(app: typer.Typer) -> None:
    """Attach ``export`` to the main app."""
    app.command("export")(export)
