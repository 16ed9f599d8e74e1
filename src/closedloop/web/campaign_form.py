"""The campaign editor's form: the campaign's fields, its waves and its cells (the marketing mix
per target segment, control groups), and its tests (A/B with an automatic winner, value-tier
stratification), read from a submitted form into a campaign document, with each error named by
its field (``waves-1-scheduled_at``, ``cells-0-share``…) in the page's language.

Rows are numbered in the form as ``waves-<i>-<field>`` and ``cells-<i>-<field>``; the buttons
to add, remove or move a row submit the form with ``op`` and the page comes back with the rows
changed and nothing saved, so the editor works without a script.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from closedloop.campaigns.schemas import CampaignPublic
from closedloop.campaigns.targeting import AB_METRICS
from closedloop.contacts.validation import control_problem
from closedloop.errors import DomainError
from closedloop.i18n import N_
from closedloop.web.form_errors import REQUIRED, pydantic_message

Gettext = Callable[[str], str]

CAMPAIGN_FIELDS = ("code", "name", "objective", "offer", "segment_id", "budget",
                   "cost_per_contact", "starts_on", "ends_on", "priority")  # fmt: skip
TEST_FIELDS = ("stratify_by_tier", "one_per_household", "ab_test_share", "ab_metric",
               "ab_decide_after_hours")  # fmt: skip
WAVE_FIELDS = ("name", "scheduled_at", "expected_volume")
CELL_FIELDS = ("code", "name", "kind", "channel", "offer", "price", "template", "segment_id",
               "share", "unit_cost")  # fmt: skip
#: A control group receives nothing: these fields of a control row are not used.
NOT_FOR_CONTROL = ("channel", "offer", "price", "template", "unit_cost")
MAX_ROWS = 100
CONTROL_CHARACTER = N_("This text holds a control character, which cannot be stored.")
SHARES = N_("The cells' shares add up to %(total)s %%: make them add up to 100 %%.")
HOURS = N_("Enter a number of hours above 0, at most 1440.")

#: The label of each field, as the summary of errors names it.
LABELS: dict[str, str] = {
    "code": N_("Code"),
    "name": N_("Name"),
    "objective": N_("Objective"),
    "offer": N_("Offer"),
    "segment_id": N_("Target segment"),
    "budget": N_("Budget"),
    "cost_per_contact": N_("Cost per contact"),
    "starts_on": N_("Starts on"),
    "ends_on": N_("Ends on"),
    "priority": N_("Priority"),
    "ab_test_share": N_("A/B test: share of the audience tested"),
    "ab_metric": N_("A/B test: winner metric"),
    "ab_decide_after_hours": N_("A/B test: decide after (hours)"),
    "scheduled_at": N_("Send at"),
    "expected_volume": N_("Messages planned"),
    "kind": N_("Kind"),
    "channel": N_("Channel"),
    "price": N_("Price"),
    "template": N_("Message template"),
    "share": N_("Share of the target"),
    "unit_cost": N_("Unit cost"),
    "form": N_("The campaign"),
    "cells": N_("Cells"),
    "waves": N_("Waves"),
}
_ROW = re.compile(r"^(waves|cells)-(\d+)(?:-(\w+))?$")
#: The form field of each part of a campaign's tests (``tests.ab_test.share``…).
_TESTS = {"stratify_by_tier": "stratify_by_tier", "one_per_household": "one_per_household",
          "ab_test": "ab_test_share", "ab_test.share": "ab_test_share",
          "ab_test.metric": "ab_metric",
          "ab_test.decide_after_hours": "ab_decide_after_hours"}  # fmt: skip
_DOTTED = re.compile(r"^(waves|cells)\[(\d+)\]\.(\w+)$")


@dataclass
class CampaignForm:
    """A campaign form as shown: its values, rows, and errors by field name."""

    values: dict[str, str]
    waves: list[dict[str, str]]
    cells: list[dict[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """Record ``message`` against field ``name`` (once)."""
        if message not in self.errors.setdefault(name, []):
            self.errors[name].append(message)

    def summary(self, gettext: Gettext) -> list[dict[str, str]]:
        """Every error with the field it names, in form order (``anchor``, ``where``,
        ``message``)."""
        out: list[dict[str, str]] = []
        for name, messages in self.errors.items():
            found = _ROW.match(name)
            if found:
                kind, index, part = found.group(1), int(found.group(2)), found.group(3)
                row = gettext(N_("Wave %(n)s") if kind == "waves" else N_("Cell %(n)s"))
                where = row % {"n": index + 1}
                if part:
                    where += " · " + gettext(LABELS.get(part, part))
            else:
                where = gettext(LABELS.get(name, name))
            anchor = f"f-{name}" if found is None or found.group(3) else name
            out.extend({"anchor": anchor, "where": where, "message": m} for m in messages)
        return out


def next_code(cells: list[dict[str, str]]) -> str:
    """The next free cell code: A, B, C… then CELL27…"""
    taken = {c.get("code", "") for c in cells}
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    return next((x for x in letters if x not in taken), f"CELL{len(cells) + 1}")


def blank_wave(waves: list[dict[str, str]]) -> dict[str, str]:
    """A new wave row, named after its place."""
    return dict.fromkeys(WAVE_FIELDS, "") | {"name": f"Wave {len(waves) + 1}"}


def blank_cell(cells: list[dict[str, str]]) -> dict[str, str]:
    """A new treatment cell row, by email, with the next free code."""
    code = next_code(cells)
    return dict.fromkeys(CELL_FIELDS, "") | {"code": code, "name": f"Cell {code}",
                                             "kind": "treatment", "channel": "email"}  # fmt: skip


def new_form() -> CampaignForm:
    """The form of a new campaign: one wave, one email cell taking the whole target."""
    values = dict.fromkeys(CAMPAIGN_FIELDS + TEST_FIELDS, "") | {"priority": "100"}
    cell = blank_cell([]) | {"share": "100"}
    return CampaignForm(values, [blank_wave([])], [cell])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _percent(share: float | None) -> str:
    if share is None:
        return ""
    return f"{share * 100:.2f}".rstrip("0").rstrip(".")


def from_campaign(
    shown: CampaignPublic, targeting: Mapping[str, Any], *, waves_not_started: bool
) -> CampaignForm:
    """The form of a stored campaign (for a running one, only its waves not yet started,
    which are all a new version carries)."""
    values = {name: _text(getattr(shown, name)) for name in CAMPAIGN_FIELDS}
    values["stratify_by_tier"] = "on" if targeting.get("stratify_by_tier") else ""
    values["one_per_household"] = "on" if targeting.get("one_per_household") else ""
    values["ab_test_share"] = _percent(targeting.get("ab_test_share"))
    values["ab_metric"] = _text(targeting.get("ab_metric") if values["ab_test_share"] else "")
    hours = targeting.get("ab_decide_after_hours") if values["ab_test_share"] else None
    values["ab_decide_after_hours"] = "" if hours is None else f"{hours:g}"
    waves = [
        {
            "name": w.name,
            "scheduled_at": w.scheduled_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
            if w.scheduled_at
            else "",
            "expected_volume": _text(w.expected_volume),
        }
        for w in shown.waves
        if not waves_not_started or w.status in ("draft", "approved", "scheduled")
    ]
    cells = [
        {
            "code": c.code,
            "name": c.name,
            "kind": "control" if c.is_control else "treatment",
            "channel": _text(c.channel),
            "offer": _text(c.offer),
            "price": _text(c.price),
            "template": _text(c.template),
            "segment_id": _text(c.segment_id),
            "share": _percent(c.share),
            "unit_cost": _text(c.unit_cost),
        }
        for c in shown.cells
    ]
    return CampaignForm(values, waves, cells)


def _rows(form: FormData, kind: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    indexes = sorted(
        {int(m.group(2)) for key in form if (m := _ROW.match(key)) and m.group(1) == kind}
    )
    rows = []
    for i in indexes[:MAX_ROWS]:
        row = {}
        for name in names:
            value = form.get(f"{kind}-{i}-{name}")
            row[name] = value.strip() if isinstance(value, str) else ""
        rows.append(row)
    return rows


def read(form: FormData) -> CampaignForm:
    """The submitted form's values and rows, as typed (nothing checked yet)."""
    values = {}
    for name in CAMPAIGN_FIELDS + TEST_FIELDS:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return CampaignForm(
        values, _rows(form, "waves", WAVE_FIELDS), _rows(form, "cells", CELL_FIELDS)
    )


def check_controls(parsed: CampaignForm, gettext: Gettext) -> None:
    """An error on each field holding a control character (NUL cannot even be stored)."""
    named = [(name, v) for name, v in parsed.values.items()]
    for kind, rows in (("waves", parsed.waves), ("cells", parsed.cells)):
        named += [(f"{kind}-{i}-{k}", v) for i, row in enumerate(rows) for k, v in row.items()]
    for name, value in named:
        problem = control_problem(value)
        if problem:
            parsed.add(
                name, gettext(N_("This text holds a control character, which cannot be stored."))
            )


def apply_op(parsed: CampaignForm, op: str) -> bool:
    """Add, remove or move a row as button ``op`` asks; False when ``op`` is no such button."""
    if op == "add-wave" and len(parsed.waves) < MAX_ROWS:
        parsed.waves.append(blank_wave(parsed.waves))
        return True
    if op == "add-cell" and len(parsed.cells) < MAX_ROWS:
        parsed.cells.append(blank_cell(parsed.cells))
        return True
    found = re.fullmatch(r"(remove|up|down)-(wave|cell)-(\d+)", op)
    if not found:
        return op.startswith("add-")
    verb, kind, i = found.group(1), found.group(2), int(found.group(3))
    rows = parsed.waves if kind == "wave" else parsed.cells
    if i >= len(rows):
        return True
    if verb == "remove":
        rows.pop(i)
    else:
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(rows):
            rows[i], rows[j] = rows[j], rows[i]
    return True


def _convert(parsed: CampaignForm, name: str, raw: str, kind: Any, gettext: Gettext) -> Any:
    """``raw`` as ``kind``; an error on ``name`` when it does not read so."""
    messages = {
        int: N_("Enter a whole number."),
        Decimal: N_("Enter a number."),
        float: N_("Enter a number."),
        date: N_("Enter a valid date (year-month-day)."),
        datetime: N_("Enter a valid date and time."),
    }
    try:
        if kind is date:
            return date.fromisoformat(raw)
        if kind is datetime:
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
        number = kind(raw)
        if kind is not int and not Decimal(raw).is_finite():
            raise ValueError(raw)
        return number
    except (ValueError, InvalidOperation, ArithmeticError):
        parsed.add(name, gettext(messages[kind]))
        return None


def _campaign_doc(parsed: CampaignForm, gettext: Gettext, *, with_code: bool) -> dict[str, Any]:
    v = parsed.values
    doc: dict[str, Any] = {"code": v["code"]} if with_code else {}
    doc["name"] = v["name"]
    for name in ("objective", "offer"):
        doc[name] = v[name] or None
    kinds = {"segment_id": int, "priority": int, "budget": Decimal, "cost_per_contact": Decimal,
             "starts_on": date, "ends_on": date}  # fmt: skip
    for name, kind in kinds.items():
        doc[name] = _convert(parsed, name, v[name], kind, gettext) if v[name] else None
    if doc["priority"] is None:
        doc.pop("priority")
    return doc  # an empty target segment is sent as None: a stored one is taken off


def _waves(parsed: CampaignForm, gettext: Gettext) -> list[dict[str, Any]]:
    waves = []
    for i, row in enumerate(parsed.waves):
        wave: dict[str, Any] = {"name": row["name"]}
        if row["scheduled_at"]:
            at = f"waves-{i}-scheduled_at"
            wave["scheduled_at"] = _convert(parsed, at, row["scheduled_at"], datetime, gettext)
        if row["expected_volume"]:
            at = f"waves-{i}-expected_volume"
            wave["expected_volume"] = _convert(parsed, at, row["expected_volume"], int, gettext)
        waves.append(wave)
    return waves


def _cells(parsed: CampaignForm, gettext: Gettext) -> list[dict[str, Any]]:
    cells = []
    codes = [row["code"] for row in parsed.cells]
    total = 0.0
    for i, row in enumerate(parsed.cells):
        control = row["kind"] == "control"
        cell: dict[str, Any] = {"code": row["code"], "name": row["name"], "is_control": control}
        if codes.count(row["code"]) > 1 and row["code"]:
            parsed.add(f"cells-{i}-code", gettext(N_("Another cell has this code.")))
        for name in ("offer", "template", "channel"):
            if row[name] and not (control and name in NOT_FOR_CONTROL):
                cell[name] = row[name]
        if not control and not row["offer"] and parsed.values["offer"]:
            cell["offer"] = parsed.values["offer"]  # the campaign's offer, as the form says
        kinds = {"price": Decimal, "unit_cost": Decimal, "segment_id": int}
        for name, kind in kinds.items():
            if row[name] and not (control and name in NOT_FOR_CONTROL):
                cell[name] = _convert(parsed, f"cells-{i}-{name}", row[name], kind, gettext)
        share = None
        if not row["share"]:
            parsed.add(f"cells-{i}-share", gettext(REQUIRED))
        else:
            share = _convert(parsed, f"cells-{i}-share", row["share"], float, gettext)
        if share is not None and not 0 < share <= 100:
            parsed.add(f"cells-{i}-share", gettext(N_("Enter a percentage above 0, at most 100.")))
        elif share is not None:
            cell["share"] = round(share / 100, 6)
            total += share
        cells.append(cell)
    if cells and not parsed.errors and abs(total - 100) > 0.01:
        message = gettext(
            N_("The cells' shares add up to %(total)s %%: make them add up to 100 %%.")
        )
        parsed.add("cells", message % {"total": f"{total:g}"})
    return cells


def targeting(parsed: CampaignForm, treatments: int, gettext: Gettext) -> dict[str, Any]:
    """The tests' settings (as :class:`~closedloop.campaigns.schemas.TestsIn`): value-tier
    stratification, one per household and the A/B test (``ab_test`` None: no A/B test)."""
    v = parsed.values
    out: dict[str, Any] = {"stratify_by_tier": bool(v["stratify_by_tier"]),
                           "one_per_household": bool(v["one_per_household"]),
                           "ab_test": None}  # fmt: skip
    if not v["ab_test_share"]:
        return out
    ab: dict[str, Any] = {}
    share = _convert(parsed, "ab_test_share", v["ab_test_share"], float, gettext)
    if share is not None and not 0 < share < 100:
        parsed.add("ab_test_share", gettext(N_("Enter a percentage above 0 and below 100.")))
    elif share is not None:
        ab["share"] = round(share / 100, 6)
    if treatments < 2:
        parsed.add("ab_test_share", gettext(N_("An A/B test needs two treatment cells or more.")))
    metric = v["ab_metric"] or "click"
    if metric not in AB_METRICS:
        parsed.add("ab_metric", gettext(N_("Choose a value from the list.")))
    ab["metric"] = metric
    hours = _convert(parsed, "ab_decide_after_hours", v["ab_decide_after_hours"] or "24", float,
                     gettext)  # fmt: skip
    if hours is not None and not 0 < hours <= 1440:
        parsed.add(
            "ab_decide_after_hours", gettext(N_("Enter a number of hours above 0, at most 1440."))
        )
    ab["decide_after_hours"] = hours
    out["ab_test"] = ab
    return out


def document(parsed: CampaignForm, gettext: Gettext, *, with_code: bool) -> dict[str, Any]:
    """The campaign document of the form (for CampaignCreate or CampaignUpdate), its tests
    included; errors are added to ``parsed``."""
    doc = _campaign_doc(parsed, gettext, with_code=with_code)
    doc["waves"] = _waves(parsed, gettext)
    doc["cells"] = _cells(parsed, gettext)
    treatments = sum(1 for c in parsed.cells if c["kind"] != "control")
    doc["tests"] = targeting(parsed, treatments, gettext)
    return doc


def _name_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if not parts:
        return "form"
    if parts[0] in ("waves", "cells") and len(parts) >= 2:
        tail = parts[2] if len(parts) > 2 else ""
        tail = "kind" if tail == "is_control" else tail
        return f"{parts[0]}-{parts[1]}" + (f"-{tail}" if tail else "")
    if parts[0] == "tests":
        return _TESTS.get(".".join(parts[1:]), "form")
    return parts[0] if parts[0] in CAMPAIGN_FIELDS else "form"


def pydantic_errors(parsed: CampaignForm, exc: ValidationError, gettext: Gettext) -> None:
    """Add the schema's errors to ``parsed``, each on its field."""
    for error in exc.errors():
        name = _name_of(error["loc"])
        if error["type"] == "value_error":
            # a row's own rule ("a channel is required"): its text names the cell already
            message = str(error["msg"]).removeprefix("Value error, ")
        else:
            message = pydantic_message(gettext, error)
        parsed.add(name, message)


def domain_errors(parsed: CampaignForm, exc: DomainError, *, default: str = "form") -> None:
    """Add a service's refusal to ``parsed``, on the field it names (``cells[0].template``)."""
    for e in exc.errors or [{"field": default, "message": exc.detail}]:
        raw = str(e.get("field", default))
        found = _DOTTED.match(raw)
        name = f"{found.group(1)}-{found.group(2)}-{found.group(3)}" if found else raw
        if name.startswith("tests."):
            name = _TESTS.get(name.removeprefix("tests."), "form")
        if not found and name not in CAMPAIGN_FIELDS + TEST_FIELDS:
            name = "form"
        parsed.add(name, str(e.get("message") or e.get("reason") or exc.detail))
