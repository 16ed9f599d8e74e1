"""``closedloop segments``: count a rule, save segments, list and show them, their members,
snapshots. A rule is a JSON file (``-`` reads standard input), e.g.::

    {"all": [{"field": "tier", "op": "eq", "value": "A"},
             {"consent": {"channel": "email", "purpose": "marketing"}},
             {"orders": {"category": "running", "min_count": 2, "days": 180}}]}

``closedloop segments schema`` prints the JSON Schema of rules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from closedloop.cli._common import JsonOption, console, print_json, session_scope
from closedloop.errors import ValidationFailed

segments_app = typer.Typer(
    name="segments",
    help="Segments: count a rule, save it, list, show, export members, snapshot, delete.",
    no_args_is_help=True,
)

RulesOption = typer.Option(..., "--rules", help="A JSON rule file ('-': standard input).")


def _read_rules(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except OSError as exc:
        raise ValidationFailed(f"Cannot read the rule file {source}: {exc.strerror}.") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"The rule file {source} is not JSON: line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}.",
            errors=[{"field": "rule", "message": exc.msg}],
        ) from exc
    if not isinstance(doc, dict):
        raise ValidationFailed(
            f"The rule file {source} holds no rule object.",
            errors=[{"field": "rule", "message": "a rule is a JSON object"}],
        )
    return doc


@segments_app.command("count")
def count_cmd(rules: str = RulesOption, json_output: bool = JsonOption) -> None:
    """Count the persons a rule selects now, e.g. closedloop segments count --rules r.json."""
    from closedloop.segments import count

    with session_scope() as session:
        n = count(session, _read_rules(rules))
    if json_output:
        print_json({"count": n})
    else:
        console.print(f"{n:,} persons")


@segments_app.command("create")
def create(
    name: str = typer.Argument(..., help="The segment's name (unique)."),
    rules: str = RulesOption,
    description: str | None = typer.Option(None, "--description", help="What it is for."),
    json_output: bool = JsonOption,
) -> None:
    """Save a dynamic segment (its rule is evaluated whenever it is used)."""
    from closedloop.segments import count, create_segment, segment_dict

    with session_scope() as session:
        seg = create_segment(
            session, name, _read_rules(rules), description=description, created_by="cli"
        )
        row = {**segment_dict(seg), "count": count(session, seg.rules or {})}
    if json_output:
        print_json(row)
    else:
        console.print(f"Created segment {row['name']} (#{row['id']}): {row['count']:,} persons.")


@segments_app.command("list")
def list_cmd(json_output: bool = JsonOption) -> None:
    """List the segments by name."""
    from closedloop.segments import list_segments, segment_dict

    with session_scope() as session:
        segments, _total = list_segments(session, limit=10_000)
        rows = [segment_dict(s) for s in segments]
    if json_output:
        print_json(rows)
        return
    table = Table("id", "name", "kind", "frozen at", "frozen count", "description")
    for r in rows:
        frozen = str(r["frozen_at"] or "")[:19]
        count = "" if r["frozen_count"] is None else f"{r['frozen_count']:,}"
        table.add_row(str(r["id"]), r["name"], r["kind"], frozen, count, r["description"] or "")
    console.print(table)


@segments_app.command("show")
def show(
    segment_id: int = typer.Argument(..., help="The segment's id."),
    json_output: bool = JsonOption,
) -> None:
    """Show a segment: its rule (or origin) and how many members it has now."""
    from closedloop.segments import get_segment, member_ids, segment_dict

    with session_scope() as session:
        seg = get_segment(session, segment_id)
        row = {**segment_dict(seg), "count": len(member_ids(session, seg.id))}
    if json_output:
        print_json(row)
        return
    console.print(f"[bold]{row['name']}[/bold] (#{row['id']}, {row['kind']}): {row['count']:,}")
    if row["description"]:
        console.print(row["description"])
    if row["frozen_at"]:
        console.print(f"frozen at {row['frozen_at']} with {row['frozen_count']:,} members")
    shown = row["rules"] if row["rules"] is not None else row["origin"]
    console.print_json(json.dumps(shown, default=str))


@segments_app.command("members")
def members(
    segment_id: int = typer.Argument(..., help="The segment's id."),
    csv_file: Path | None = typer.Option(
        None, "--csv", help="Write the members (the persons list's columns) to this CSV file."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write them to a .csv, .xlsx or .parquet file instead."
    ),
    json_output: bool = JsonOption,
) -> None:
    """The ids of a segment's members now; with --csv/--out, their details to a file."""
    from closedloop.bootstrap import get_engine
    from closedloop.exports.tables import export_persons
    from closedloop.segments import member_ids
    from closedloop.users.service import audit

    with session_scope() as session:
        ids = member_ids(session, segment_id)
    path = csv_file or out
    if path is not None:
        with session_scope() as session:
            written = export_persons(get_engine(), ids, path, "csv" if csv_file else None)
            detail = {"rows": written, "segment_id": segment_id}
            audit(session, None, "export", "segment", segment_id, channel="cli", detail=detail)
        console.print(f"{written:,} members of segment {segment_id} written to {path}.")
        return
    if json_output:
        print_json({"segment_id": segment_id, "count": len(ids), "person_ids": ids})
        return
    sys.stdout.write("".join(f"{i}\n" for i in ids))


@segments_app.command("snapshot")
def snapshot(
    segment_id: int = typer.Argument(..., help="The dynamic segment to freeze."),
    name: str | None = typer.Option(None, "--name", help="The snapshot's name."),
    json_output: bool = JsonOption,
) -> None:
    """Freeze a dynamic segment's members now into a new snapshot segment."""
    from closedloop.segments import segment_dict, snapshot_segment

    with session_scope() as session:
        row = segment_dict(snapshot_segment(session, segment_id, name=name, created_by="cli"))
    if json_output:
        print_json(row)
    else:
        console.print(
            f"Snapshot {row['name']} (#{row['id']}): {row['frozen_count']:,} members frozen."
        )


@segments_app.command("delete")
def delete(
    segment_id: int = typer.Argument(..., help="The segment's id."),
    json_output: bool = JsonOption,
) -> None:
    """Delete a segment (snapshots taken from it stay)."""
    from closedloop.segments import delete_segment

    with session_scope() as session:
        delete_segment(session, segment_id)
    if json_output:
        print_json({"deleted": segment_id})
    else:
        console.print(f"Deleted segment {segment_id}.")


@segments_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of segment rules."""
    from closedloop.segments import rule_schema

    print_json(rule_schema())


def register(app: typer.Typer) -> None:
    """Attach ``closedloop segments …`` to the main app."""
    app.add_typer(segments_app)
