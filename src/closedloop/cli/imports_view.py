"""``closedloop imports show`` as tables: the batch, its mapping, warnings and first rejects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from closedloop.cli._common import console


def _text(value: Any) -> Text:
    """A stored value shown as it is (no Rich markup); nothing for None; times to the second."""
    if isinstance(value, datetime):
        return Text(f"{value:%Y-%m-%d %H:%M:%S}")
    return Text("" if value is None else str(value))


def print_batch(data: dict[str, Any]) -> None:
    """Print a batch (``batches.batch_dict`` plus ``rejects`` and ``rejects_total``)."""
    options = data.get("options") or {}
    file = options.get("file") or {}
    facts: list[tuple[str, Any]] = [
        ("kind", data["kind"]),
        ("source", data["source"]),
        ("file", data["filename"]),
        ("format", " · ".join(f"{k} {v}" for k, v in file.items() if v is not None)),
        ("status", data["status"] + (" (dry run)" if data["dry_run"] else "")),
        ("counts", " · ".join(f"{k} {v:,}" for k, v in (data.get("counts") or {}).items())),
        ("rows done", data["rows_done"]),
        ("mapping profile", data["mapping_name"]),
        ("date order", options.get("date_order")),
        ("default country", options.get("default_country")),
        ("by", data["created_by"]),
        ("started", data["started_at"]),
        ("finished", data["finished_at"]),
        ("error", data["error"]),
        ("rolled back", data["rolled_back_at"]),
        ("rolled back by", data["rolled_back_by"]),
    ]
    batch = Table(title=f"Import batch {data['id']}", show_header=False)
    batch.add_column("field", style="bold")
    batch.add_column("value")
    for label, value in facts:
        if value not in (None, ""):
            batch.add_row(label, _text(value))
    console.print(batch)

    mapping = options.get("mapping") or {}
    if mapping:
        columns = Table(title="Mapping")
        columns.add_column("column")
        columns.add_column("field")
        for column, target in mapping.items():
            columns.add_row(_text(column), _text(target))
        console.print(columns)
    for warning in options.get("warnings") or []:
        console.print(Text(f"warning: {warning}"), style="yellow")

    warned = data.get("value_warnings") or []
    if warned:
        total = data.get("value_warnings_total", len(warned))
        _listed(
            f"Kept with warnings (values left out): the first {len(warned):,} of {total:,}", warned
        )
    rejects = data.get("rejects") or []
    total = data.get("rejects_total", len(rejects))
    if not rejects:
        console.print(f"{total:,} reject(s).")
        return
    _listed(f"Rejects: the first {len(rejects):,} of {total:,}", rejects)


def _listed(title: str, found: list[dict[str, Any]]) -> None:
    listed = Table(title=title)
    for column in ("line", "field", "value", "reason"):
        listed.add_column(column, justify="right" if column == "line" else "left")
    for r in found:
        listed.add_row(_text(r["line"]), _text(r["field"]), _text(r["value"]), _text(r["reason"]))
    console.print(listed)
