"""``closedloop imports``: the import batches — list them, show one with its rejects, write
its rejects, roll one back — and the saved mapping profiles."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from closedloop.bootstrap import get_engine
from closedloop.cli._common import (
    JsonOption,
    console,
    err_console,
    print_json,
    session_scope,
)
from closedloop.cli.imports_view import print_batch
from closedloop.errors import DomainError
from closedloop.ingest import batches, profiles
from closedloop.users.service import audit

imports_app = typer.Typer(
    name="imports",
    help="Import batches: list them, show one with its rejects, roll one back.",
    no_args_is_help=True,
)


def _fail(exc: DomainError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc.detail}", highlight=False)
    for item in exc.errors:
        err_console.print(
            Text(f"  - {item.get('field', '')}: {item.get('message', '')}"), highlight=False
        )
    return typer.Exit(code=1)


@imports_app.command("list")
def list_imports(
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    json_output: bool = JsonOption,
) -> None:
    """The latest import batches."""
    with session_scope() as session:
        rows = [batches.batch_dict(b) for b in batches.list_batches(session, limit=limit)]
    if json_output:
        print_json(rows)
        return
    table = Table(title="Import batches")
    for col in (
        "id",
        "kind",
        "source",
        "file",
        "status",
        "new",
        "updated",
        "unchanged",
        "rejected",
        "started",
    ):
        table.add_column(col)
    for b in rows:
        c = b["counts"]
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    b["id"],
                    b["kind"],
                    b["source"],
                    b["filename"] or "",
                    b["status"]
                    + (" (dry run)" if b["dry_run"] and b["status"] != "dry_run" else ""),
                    c.get("new", 0),
                    c.get("updated", 0),
                    c.get("unchanged", 0),
                    c.get("rejected", 0),
                    f"{b['started_at']:%Y-%m-%d %H:%M}" if b["started_at"] else "",
                )
            )
        )
    console.print(table)


@imports_app.command("show")
def show_import(
    batch_id: int = typer.Argument(...),
    rejects: int = typer.Option(20, "--rejects", min=0, help="How many rejects to list."),
    json_output: bool = JsonOption,
) -> None:
    """One batch: counts, mapping, warnings and its first rejects."""
    with session_scope() as session:
        batch = batches.get_batch(session, batch_id)
        data = batches.batch_dict(batch)
        data["rejects_total"] = batches.reject_count(session, batch_id)
        data["rejects"] = [
            {"line": r.line_no, "field": r.field, "value": r.value, "reason": r.reason}
            for r in batches.rejects(session, batch_id, limit=rejects)
        ]
        data["value_warnings_total"] = batches.reject_count(session, batch_id, severity="warning")
        data["value_warnings"] = [
            {"line": r.line_no, "field": r.field, "value": r.value, "reason": r.reason}
            for r in batches.rejects(session, batch_id, limit=rejects, severity="warning")
        ]
    if json_output:
        print_json(data)
        return
    print_batch(data)


@imports_app.command("rejects")
def import_rejects(
    batch_id: int = typer.Argument(...),
    output: Path | None = typer.Option(None, "-o", "--output", help="CSV file (default: stdout)."),
    warnings: bool = typer.Option(
        False, "--warnings", help="The warnings instead: values left out of kept rows."
    ),
) -> None:
    """Every reject of a batch as CSV: line, field, value, reason (with --warnings: every
    value left out of a row that was kept)."""
    severity = "warning" if warnings else "error"
    with session_scope() as session:
        data = batches.rejects_csv(session, batch_id, severity=severity)
    if output is None:
        sys.stdout.write(data)
    else:
        output.write_text(data, "utf-8-sig")
        what = "Warnings" if warnings else "Rejects"
        console.print(f"{what} of batch {batch_id} written to {output}.")


@imports_app.command("rollback")
def rollback(
    batch_id: int = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_output: bool = JsonOption,
) -> None:
    """Undo a whole batch: restore the values it changed, remove what it created.

    Persons it created who have history since (orders from elsewhere, communications,
    responses, merges, later consents or changes) are kept, as a person delete would keep
    them. Asks for confirmation with what will go and what stays, unless --yes (or
    --json)."""
    if not yes and not json_output:
        try:
            with session_scope() as session:
                plan = batches.rollback_preview(session, batch_id)
        except DomainError as exc:
            raise _fail(exc) from exc
        console.print(_plan_text(batch_id, plan), highlight=False)
        typer.confirm(f"Roll back import batch {batch_id}?", abort=True)
    try:
        done: dict[str, Any] = batches.rollback_batch(get_engine(), batch_id, user="cli")
    except DomainError as exc:
        raise _fail(exc) from exc
    at = done.pop("rolled_back_at")
    with session_scope() as session:
        audit(session, None, "rollback", "import_batch", batch_id, channel="cli", detail=done)
    if json_output:
        print_json(
            {"batch_id": batch_id, "status": "rolled_back", "rolled_back_at": at.isoformat(),
             **done}
        )  # fmt: skip
        return
    console.print(
        f"Batch {batch_id} rolled back: {done['removed']:,} records removed "
        f"({done.get('persons_removed', 0):,} persons, {done.get('orders_removed', 0):,} "
        f"orders, {done['consents_removed']:,} consents), {done['restored']:,} restored"
        + (f", {done['kept']:,} values kept (changed again since)" if done["kept"] else "")
        + (
            f"; {done['persons_kept']:,} persons kept because of their history"
            f" ({_because(done['kept_because'])})"
            if done["persons_kept"]
            else ""
        )
        + ".",
        highlight=False,
    )


def _because(reasons: dict[str, int]) -> str:
    return ", ".join(f"{n:,} with {label}" for label, n in reasons.items())


def _plan_text(batch_id: int, plan: dict[str, Any]) -> str:
    """What a rollback will do, said before asking."""
    text = (
        f"Rolling back batch {batch_id} removes {plan['persons_removed']:,} persons, "
        f"{plan['orders_removed']:,} orders and {plan['consents_removed']:,} consents, and "
        f"restores {plan['values_restored']:,} changed records."
    )
    if plan["persons_kept"]:
        text += (
            f" {plan['persons_kept']:,} persons are kept because of their history "
            f"({_because(plan['kept_because'])})."
        )
    return text


@imports_app.command("mappings")
def mappings(json_output: bool = JsonOption) -> None:
    """Saved mapping profiles."""
    with get_engine().connect() as conn:
        rows: list[dict[str, Any]] = [
            {"name": p.name, "kind": p.kind, "columns": dict(p.columns)}
            for p in profiles.list_all(conn)
        ]
    if json_output:
        print_json(rows)
        return
    for p in rows:
        console.print(
            Text(
                f"{p['name']} ({p['kind']}): "
                + ", ".join(f"{c} → {t}" for c, t in p["columns"].items())
            )
        )


def register(app: typer.Typer) -> None:
    """Attach ``imports …`` to the main app."""
    app.add_typer(imports_app)
