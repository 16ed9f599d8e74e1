"""``closedloop dedupe``: find duplicate persons, merge them, review, households."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from closedloop.bootstrap import get_engine, get_session_factory
from closedloop.cli._common import JsonOption, console, err_console, print_json, session_scope
from closedloop.dedupe import merge as merge_service
from closedloop.dedupe.indexing import count_indexed, index_missing, rebuild_index
from closedloop.dedupe.online import find_candidates
from closedloop.errors import DomainError

dedupe_app = typer.Typer(
    name="dedupe",
    help="Find duplicate persons, merge them into golden records, undo merges, households.",
    no_args_is_help=True,
)

_PHASES = {
    "read": "Reading persons",
    "dedupe": "Scoring pairs (Splink)",
    "index": "Online index",
    "store": "Storing pairs",
    "merge": "Merging clusters",
}


def _bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=quiet,
    )


@dedupe_app.command("run")
def run(
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.01,
        max=0.9999,
        help="Merge pairs at or above this match probability (default 0.9).",
    ),
    review_threshold: float | None = typer.Option(
        None,
        "--review-threshold",
        min=0.01,
        max=0.9999,
        help="Queue pairs from this probability up for review (default 0.5).",
    ),
    merge: bool = typer.Option(True, "--merge/--no-merge", help="Merge the high pairs."),
    link_only: bool = typer.Option(
        False,
        "--link-only",
        help="Link sources that are each clean within themselves (the --source of each "
        "import): pair persons of different sources only, at most one per source in a cluster.",
    ),
    json_output: bool = JsonOption,
) -> None:
    """Deduplicate every golden person as a job: train the model on the base (no labels),
    store it as a new version, store the pairs with their explanation, merge pairs above the
    threshold into golden records, queue the grey zone for review, keep cluster ids."""  # fmt: skip
    from closedloop.dedupe.runs import run_dedupe_job  # pandas, Splink: for this command only

    bar = _bar(json_output)
    tasks: dict[str, TaskID] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(_PHASES.get(phase, phase), total=total or None)
        bar.update(tasks[phase], completed=done, total=total or None)

    try:
        with bar:
            report = run_dedupe_job(
                get_session_factory(get_engine()),
                created_by="cli",
                progress=progress,
                threshold=threshold,
                review_threshold=review_threshold,
                merge=merge,
                link_only=link_only,
            )
    except DomainError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(code=1) from exc
    if json_output:
        print_json(asdict(report))
        return
    mode = ", link-only" if report.link_only else ""
    table = Table(title=f"Dedupe run (job {report.job_id}, model v{report.model_version}{mode})")
    table.add_column("")
    table.add_column("", justify="right")
    for label, value in (
        ("persons", report.persons),
        ("pairs ≥ review threshold", report.pairs),
        ("pairs linked by a shared identifier", report.rule_pairs),
        ("merges", report.merges),
        ("merges refused", len(report.merges_refused)),
        ("pairs to review", report.pending),
        ("clusters (ids kept)", f"{report.clusters} ({report.clusters_kept})"),
        ("household pairs kept apart", report.household_pairs),
        ("seconds", f"{report.seconds.get('total', 0):.1f}"),
    ):
        table.add_row(label, str(value))
    console.print(table)
    for warning in report.training_warnings:
        console.print(f"[yellow]training:[/yellow] {warning}", markup=True, highlight=False)
    for value, count in sorted(report.placeholders.items()):
        console.print(
            f"[yellow]ignored:[/yellow] identifier {value} is held by {count} persons: "
            "a placeholder, not an identifier",
            markup=True,
            highlight=False,
        )
    for reason in report.merges_refused[:10]:
        console.print(f"[yellow]refused:[/yellow] {reason}", markup=True, highlight=False)


@dedupe_app.command("export-pairs")
def export(file: Path = typer.Argument(..., help="CSV file to write.")) -> None:
    """Write every predicted pair (both records' source system and external id, match
    probability and weight, status) as CSV, to score against a ground truth."""
    from closedloop.dedupe.runs import export_pairs

    with session_scope() as session:
        count = export_pairs(session, file)
    console.print(f"{count} pair(s) written to {file}")


@dedupe_app.command("households")
def households(json_output: bool = JsonOption) -> None:
    """Group persons living together (same address and family name, a shared landline, or a
    shared email and family name) into households."""
    from closedloop.dedupe.households import build_households  # pandas

    with session_scope() as session:
        report = build_households(session)
    if json_output:
        print_json(asdict(report))
        return
    console.print(
        f"{report.households} household(s) with {report.members} person(s); "
        f"{report.created} new, {report.links_added} membership(s) added"
    )


@dedupe_app.command("merge")
def merge_cmd(
    golden_id: int = typer.Argument(..., help="The record that stays."),
    source_id: int = typer.Argument(..., help="The record merged into it."),
    json_output: bool = JsonOption,
) -> None:
    """Merge one person into another (survivorship per field; undo with dedupe unmerge)."""
    with session_scope() as session:
        event = merge_service.merge_persons(session, golden_id, source_id, merged_by="cli")
        data = {"merge_id": event.id, "golden_id": golden_id, "source_id": source_id}
    if json_output:
        print_json(data)
    else:
        console.print(f"Merged {source_id} into {golden_id} (merge {data['merge_id']}).")


@dedupe_app.command("unmerge")
def unmerge_cmd(
    merge_id: int = typer.Argument(..., help="The merge to undo."),
    force: bool = typer.Option(False, "--force", help="Even if the golden record changed."),
) -> None:
    """Undo a merge: both persons and everything moved return to their state before."""
    with session_scope() as session:
        event = merge_service.unmerge(session, merge_id, undone_by="cli", force=force)
        golden, source = event.golden_id, event.source_id
    console.print(f"Merge {merge_id} undone: persons {golden} and {source} are apart again.")


@dedupe_app.command("check")
def check(
    person_id: int = typer.Argument(..., help="A stored person."),
    json_output: bool = JsonOption,
) -> None:
    """Show the stored persons that may be duplicates of one person, with their scores."""
    with session_scope() as session:
        found = find_candidates(session, person_id)
        rows = [
            {"person_id": c.person_id, "match_probability": round(c.match_probability, 6),
             "match_weight": round(c.match_weight, 3), "likely": c.likely, "keys": c.keys}
            for c in found
        ]  # fmt: skip
    if json_output:
        print_json(rows)
        return
    for c in found:
        verdict = "likely" if c.likely else "review"
        console.print(f"#{c.person_id}  p={c.match_probability:.4f}  {verdict}  {','.join(c.keys)}")
    if not rows:
        console.print("No candidate duplicate.")


@dedupe_app.command("index")
def index(
    rebuild: bool = typer.Option(
        False, "--all", help="Rebuild the keys of every golden person, not only missing ones."
    ),
    json_output: bool = JsonOption,
) -> None:
    """Build the online check's index (match keys and prepared records): for the golden
    persons not indexed yet, or with --all for the whole base (after a bulk load)."""
    factory = get_session_factory(get_engine())
    bar = _bar(json_output)
    started = time.perf_counter()
    with bar, factory.begin() as session:
        task = bar.add_task("Online index", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if rebuild:
            persons, keys = rebuild_index(session, progress)
        else:
            persons, keys = index_missing(session, progress)
        indexed = count_indexed(session)
    data = {
        "persons": persons,
        "match_keys": keys,
        "indexed": indexed,
        "rebuilt": rebuild,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if json_output:
        print_json(data)
        return
    what = "rebuilt for" if rebuild else "added for"
    console.print(
        f"{keys:,} key(s) {what} {persons:,} person(s); the index holds {indexed:,} person(s)."
    )


def register(app: typer.Typer) -> None:
    """Attach ``closedloop dedupe …`` to the main app."""
    app.add_typer(dedupe_app)
