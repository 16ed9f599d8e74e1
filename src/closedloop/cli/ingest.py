"""``closedloop import``: a file into the store (the batches it makes are listed, shown and
rolled back by ``closedloop imports``, :mod:`closedloop.cli.imports`)."""

from __future__ import annotations

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
from closedloop.errors import DomainError
from closedloop.ingest import KINDS, MappingRequest, Options, Summary, batches, run_import
from closedloop.users.service import audit


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


def register(app: typer.Typer) -> None:
    """Attach ``import`` to the main app (``export`` and ``imports …`` are in
    :mod:`closedloop.cli.export` and :mod:`closedloop.cli.imports`)."""
    app.command("import")(import_file)
