"""Sync request bodies read into items (pure: no database).

A body is one JSON object (one item) or ``{"items": [...]}``. Each item is a flat object of
the plain field names of the import (``external_id``, ``given_name``, ``email``…); values are
strings, numbers, booleans or null (null and missing leave the stored value alone). Problems
are reported per item with the field and the reason, never for the whole request, except for
a body that is not JSON (with its position) or over the limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from closedloop.errors import ValidationFailed
from closedloop.ingest import cell_text
from closedloop.interfaces.errors import MalformedJson, PayloadTooLarge

#: Longest text value accepted in an item (the import's own limits are tighter per field).
MAX_VALUE_CHARS = 10_000


@dataclass
class ItemResult:
    """What happened to one item: created, updated, unchanged or rejected (with errors)."""

    index: int
    status: str = "pending"
    external_id: str | None = None
    id: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: values left out of a kept item, each with its field and reason
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def _problem(self, field_name: str | None, reason: str, value: Any) -> dict[str, Any]:
        problem: dict[str, Any] = {"index": self.index, "field": field_name, "reason": reason}
        if value is not None:
            text = str(value)
            problem["value"] = text if len(text) <= 200 else text[:200] + "…"
        return problem

    def reject(self, field_name: str | None, reason: str, value: Any = None) -> None:
        """Refuse the item, naming the field (``lines[2].sku``) and the reason."""
        self.status = "rejected"
        self.errors.append(self._problem(field_name, reason, value))

    def warn(self, field_name: str | None, reason: str, value: Any = None) -> None:
        """Report a value left out of the item, which is kept."""
        self.warnings.append(self._problem(field_name, reason, value))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        out["external_id"] = self.external_id
        out["id"] = self.id
        if self.errors:
            out["errors"] = self.errors
        if self.warnings and self.status != "rejected":
            out["warnings"] = self.warnings
        return out


def parse_body(raw: bytes, max_items: int) -> tuple[list[Any], bool]:
    """The items of a body and whether it was a single object.

    MalformedJson names the position of the first error; PayloadTooLarge gives the limit;
    ValidationFailed when the body is JSON of the wrong shape.
    """
    if not raw.strip():
        raise ValidationFailed(
            'The request body is empty: send one JSON object or {"items": [...]}.',
            errors=[{"field": "body", "message": "a JSON object is required"}],
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedJson(
            f"The request body is not UTF-8: invalid byte at position {exc.start}."
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJson(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno} (character {exc.pos})."
        ) from exc
    if not isinstance(data, dict):
        raise ValidationFailed(
            f'The body must be a JSON object (one item) or {{"items": [...]}}, '
            f"not {_type_name(data)}.",
            errors=[{"field": "body", "message": "must be a JSON object"}],
        )
    if "items" not in data:
        return [data], True
    extra = sorted(k for k in data if k != "items")
    items = data["items"]
    problems = []
    if extra:
        problems.append({"field": extra[0], "message": "unknown key next to items"})
    if not isinstance(items, list):
        problems.append({"field": "items", "message": "must be a list of objects"})
    if problems:
        raise ValidationFailed(
            'A batch body is {"items": [...]} and nothing else.', errors=problems
        )
    if len(items) > max_items:
        raise PayloadTooLarge(
            f"The batch holds {len(items):,} items; at most {max_items:,} per request. "
            "Split it into several requests."
        )
    return items, False


def _type_name(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def scalar_text(value: Any) -> str | None:
    """A JSON scalar as the text an import reads; ValueError for objects and arrays."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ValueError(f"must be a string, number or boolean, not {_type_name(value)}")
    text = cell_text(value)
    if text is not None and len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"too long: {len(text):,} characters (at most {MAX_VALUE_CHARS:,})")
    return text


def read_fields(
    item: Any,
    result: ItemResult,
    columns: tuple[str, ...],
    *,
    prefix: str = "",
    nested: frozenset[str] = frozenset(),
) -> tuple[list[str | None], dict[str, Any]] | None:
    """The values of ``columns`` from one item object (in column order) and its nested
    values (``nested`` keys, e.g. an order's ``lines``); None (and errors) when unusable."""
    if not isinstance(item, dict):
        result.reject(prefix.rstrip(".") or None, f"must be a JSON object, not {_type_name(item)}")
        return None
    known = set(columns)
    values: list[str | None] = [None] * len(columns)
    where = {name: i for i, name in enumerate(columns)}
    extra: dict[str, Any] = {}
    ok = True
    for key, value in item.items():
        if key in nested:
            extra[key] = value
            continue
        if key not in known:
            result.reject(
                prefix + key,
                f"unknown field {key!r}; the fields are: {', '.join(sorted(known | nested))}",
            )
            ok = False
            continue
        try:
            values[where[key]] = scalar_text(value)
        except ValueError as exc:
            result.reject(prefix + key, str(exc))
            ok = False
    return (values, extra) if ok else None
