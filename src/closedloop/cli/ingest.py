"""``closedloop import``, ``closedloop export`` and ``closedloop imports`` (batches)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from closedloop.bootstrap import get_engine
from closedloop.cli._common import (
    JsonOption,
    console,
    err_console,
    print_json,
    session_scope,
    stop_at_a_safe_point,
)
from closedloop.cli.imports_view import print_batch
from closedloop.errors import DomainError
from closedloop.exports.person import person_document
from closedloop.exports.tables import export_table
from closedloop.ingest import KINDS, MappingRequest, Options, Summary, batches, profiles, run_import
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


def _map_pairs(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        col, sep, target = item.rpartition("=")
        if not sep or not col:
            raise typer.BadParameter(f"{item!r}: use COLUMN=FIELD", param_hint="--map")
        out[col] = target
    return out


def _print_summary(summary: Summary, shown: int = 20) -> None:
    c = summary.counts
    verb = "would be" if summary.dry_run else "were"
    console.print(
        f"Batch {summary.batch_id} ({summary.kind} from {summary.source}): {summary.status}. "
        f"{c.get('rows', 0):,} rows: {c.get('new', 0):,} new, {c.get('updated', 0):,} updated, "
        f"{c.get('unchanged', 0):,} unchanged, {c.get('rejected', 0):,} rejected"
        + (f" ({verb} not stored)" if summary.dry_run else "")
        + (
            f"; {c['kept_with_warnings']:,} kept with warnings (values left out)"
            if c.get("kept_with_warnings")
            else ""
        )
        + f" in {summary.seconds:.1f} s.",
        highlight=False,
    )
    if summary.resumed_at_row:
        console.print(f"Resumed after row {summary.resumed_at_row:,} of an interrupted run.")
    for warning in summary.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    if summary.value_warnings:
        _problems(
            f"Kept with warnings ({summary.value_warnings_total:,} values left out)",
            summary.value_warnings,
            shown,
        )
        if summary.value_warnings_total > shown:
            console.print(
                f"… all warnings: closedloop imports rejects {summary.batch_id} --warnings "
                "-o warnings.csv"
            )
    if summary.rejects:
        _problems(f"Rejects ({summary.rejects_total:,})", summary.rejects, shown)
        if summary.rejects_total > shown:
            console.print(
                f"… all rejects: closedloop imports rejects {summary.batch_id} -o rejects.csv"
            )
    if summary.error:
        err_console.print(Text(f"error: {summary.error}", style="red"))


def _problems(title: str, found: list[dict[str, Any]], shown: int) -> None:
    table = Table(title=title)
    for col in ("line", "field", "value", "reason"):
        table.add_column(col, overflow="fold")
    for r in found[:shown]:
        table.add_row(*(Text(str(r[k] if r[k] is not None else "")) for k in r))
    console.print(table)


def import_file(
    kind: str = typer.Argument(..., help=f"What the file holds: {', '.join(KINDS)}."),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV, TSV, XLSX, JSON, NDJSON or Parquet file."
    ),
    source: str = typer.Option(
        "import",
        "--source",
        help="The system the file comes from (erp, webshop…): ids are unique per source.",
    ),
    mapping: str | None = typer.Option(
        None,
        "--mapping",
        help="A saved mapping profile to use; the mapping used is saved under this name.",
    ),
    maps: list[str] = typer.Option(
        [], "--map", help="COLUMN=FIELD: map a column by hand (repeatable)."
    ),
    as_attribute: list[str] = typer.Option(
        [],
        "--as-attribute",
        help="COLUMN[:TYPE]: store the column as a catalogue attribute (number, date, "
        "boolean, choice, multi_choice, text; inferred when not given).",
    ),
    as_identifier: list[str] = typer.Option(
        [],
        "--as-identifier",
        help="COLUMN[:SCHEME]: store the column as an extra identifier of the person.",
    ),
    ignore: list[str] = typer.Option(
        [], "--ignore", help="COLUMN: leave this column out (repeatable)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate and count, store nothing (only the report)."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="csv, xlsx, json or parquet (default: from the file name)."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Text encoding (default: detected)."
    ),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="CSV delimiter (default: detected; 'tab' for TAB)."
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="Excel sheet (default: the first)."),
    us_dates: bool = typer.Option(
        False, "--us-dates", help="Read 03/05/2024 as March 5 (month first)."
    ),
    default_country: str | None = typer.Option(
        None,
        "--default-country",
        help="Country of national phone numbers and addresses without one "
        "(default: CLOSEDLOOP_DEFAULT_COUNTRY).",
    ),
    chunk_size: int = typer.Option(
        5000, "--chunk-size", min=1, max=100_000, help="Rows per committed chunk."
    ),
    commit_rows: int = typer.Option(
        Options.commit_rows,
        "--commit-rows",
        min=1,
        help="SQLite: rows per transaction (several chunks, at most 3 s of writing; an "
        "interrupted import redoes at most these).",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        max=32,
        help="Validation processes (default: one per core, at most 4, for files over 4 MiB).",
    ),
    no_resume: bool = typer.Option(
        False,
        "--no-resume",
        help="Start a new batch even if an interrupted run of this file can resume.",
    ),
    rejects_file: Path | None = typer.Option(
        None, "--rejects", help="Write every reject to this CSV file."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Import a file of persons, organisations, relationships, consents, attribute values,
    products, orders or order lines.

    Columns are mapped from their names (English, French, Spanish, German, Romanian); a
    column that matches nothing stops the import until it is mapped, made an attribute or an
    identifier, or ignored. Rows are upserted by (source, external id): the same file twice
    changes nothing. Invalid rows are reported (line, field, value, reason) and the valid ones
    stored; each run is a batch that can be rolled back (closedloop imports rollback ID).
    An interrupted import resumes when run again with the same file and source.
    """
    options = Options(
        source=source,
        dry_run=dry_run,
        date_order="mdy" if us_dates else "dmy",
        default_country=default_country,
        chunk_size=chunk_size,
        fmt=fmt,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        filename=file.name,
        mapping_name=mapping,
        mapping=MappingRequest(
            explicit=_map_pairs(maps),
            as_attribute=list(as_attribute),
            as_identifier=list(as_identifier),
            ignore=list(ignore),
        ),
        created_by="cli",
        resume=not no_resume,
        workers=workers,
        commit_rows=commit_rows,
        summary_rejects=10_000 if json_output else 1000,
    )
    engine = get_engine()
    show = sys.stderr.isatty() and not json_output
    try:
        with (
            stop_at_a_safe_point("at the next commit") as asked,
            Progress(
                TextColumn("[bold]importing[/bold] {task.fields[counts]}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=err_console,
                disable=not show,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("import", total=1.0, counts="")

            def progress(fraction: float, counts: dict[str, int]) -> None:
                if asked.is_set():  # called between transactions: a clean place to stop
                    raise KeyboardInterrupt
                text = f"{counts.get('rows', 0):,} rows, {counts.get('rejected', 0):,} rejected"
                bar.update(task, completed=fraction, counts=text)

            summary = run_import(engine, file, kind, options, progress=progress)
    except DomainError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        err_console.print(
            "[yellow]Interrupted.[/yellow] What was committed stays; run the same command "
            "again to resume where the import stopped."
        )
        raise typer.Exit(code=130) from None
    with session_scope() as session:
        audit(
            session,
            None,
            "import",
            "import_batch",
            summary.batch_id,
            channel="cli",
            detail={"kind": summary.kind, "counts": summary.counts},
        )
        if rejects_file is not None:
            rejects_file.write_text(batches.rejects_csv(session, summary.batch_id), "utf-8-sig")
    if json_output:
        print_json(summary.as_dict())
    else:
        _print_summary(summary)
    if summary.status == "failed":
        raise typer.Exit(code=2)


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
    """Attach ``import``, ``export`` and ``imports …`` to the main app."""
    app.command("import")(import_file)
    app.command("export")(export)
    app.add_typer(imports_app)
