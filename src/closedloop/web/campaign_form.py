"""The campaign editor's form: the campaign's fields, its waves and its cells (the marketing mix
per target segment, control groups), and its tests (A/B with an automatic winner, value-tier
stratification), read from a submitted form into a campaign document, with each error named by
its field (``waves-1-scheduled_at``, ``cells-0-share``…) in the page's language. The buttons
to add, remove or move a row submit the form with ``op``: the page comes back with the rows
changed and nothing saved (:mod:`closedloop.web.row_form`), so it works without a script.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import ValidationError
from starlette.datastructures import FormData

from closedloop.campaigns.schemas import CampaignPublic
from closedloop.campaigns.targeting import AB_METRICS
from closedloop.errors import DomainError
from closedloop.i18n import N_
from closedloop.web import row_form
from closedloop.web.form_errors import REQUIRED
from closedloop.web.row_form import Gettext, RowForm

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
#: The form field of each part of a campaign's tests (``tests.ab_test.share``…).
_TESTS = {"stratify_by_tier": "stratify_by_tier", "one_per_household": "one_per_household",
          "ab_test": "ab_test_share", "ab_test.share": "ab_test_share",
          "ab_test.metric": "ab_metric",
          "ab_test.decide_after_hours": "ab_decide_after_hours"}  # fmt: skip
_RENAMED = {"is_control": "kind"}  # the schema's field → the form's
_DOTTED = re.compile(r"^(waves|cells)\[(\d+)\]\.(\w+)$")


@dataclass
class CampaignForm(RowForm):
    """A campaign form as shown: its values, rows, and errors by field name."""

    values: dict[str, str]
    waves: list[dict[str, str]]
    cells: list[dict[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)
    LABELS: ClassVar[Mapping[str, str]] = LABELS

    def rows(self) -> dict[str, list[dict[str, str]]]:
        """The waves, then the cells."""
        return {"waves": self.waves, "cells": self.cells}

    def row_name(self, kind: str, index: int, gettext: Gettext) -> str:
        """ "Wave 2", "Cell 3"."""
        row = gettext(N_("Wave %(n)s") if kind == "waves" else N_("Cell %(n)s"))
        return row % {"n": index + 1}


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


def _percent(share: float) -> str:
    return f"{share * 100:.2f}".rstrip("0").rstrip(".")


def _minute(at: datetime | None) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M}" if at else ""


def from_campaign(shown: CampaignPublic, *, waves_not_started: bool) -> CampaignForm:
    """The form of a stored campaign (for a running one, only its waves not yet started,
    which are all a new version carries)."""
    values = {name: _text(getattr(shown, name)) for name in CAMPAIGN_FIELDS}
    tests, ab = shown.tests, shown.tests.ab_test
    values |= {"stratify_by_tier": "on" if tests.stratify_by_tier else "",
               "one_per_household": "on" if tests.one_per_household else "",
               "ab_test_share": _percent(ab.share) if ab else "",
               "ab_metric": ab.metric if ab else "",
               "ab_decide_after_hours": f"{ab.decide_after_hours:g}" if ab else ""}  # fmt: skip
    waves = [
        {name: _text(getattr(w, name)) for name in WAVE_FIELDS}
        | {"scheduled_at": _minute(w.scheduled_at)}
        for w in shown.waves
        if not waves_not_started or w.status in ("draft", "approved", "scheduled")
    ]
    cells = [
        {name: _text(getattr(c, name, None)) for name in CELL_FIELDS}
        | {"kind": "control" if c.is_control else "treatment", "share": _percent(c.share)}
        for c in shown.cells
    ]
    return CampaignForm(values, waves, cells)


def read(form: FormData) -> CampaignForm:
    """The submitted form's values and rows, as typed (nothing checked yet)."""
    return CampaignForm(
        row_form.read_values(form, CAMPAIGN_FIELDS + TEST_FIELDS),
        row_form.read_rows(form, "waves", WAVE_FIELDS, MAX_ROWS),
        row_form.read_rows(form, "cells", CELL_FIELDS, MAX_ROWS),
    )


def apply_op(parsed: CampaignForm, op: str) -> bool:
    """Add, remove or move a row as button ``op`` asks; False when ``op`` is no such button."""
    rows = {"wave": parsed.waves, "cell": parsed.cells}
    blank = {"wave": blank_wave, "cell": blank_cell}
    return row_form.apply_row_op(op, rows, blank, MAX_ROWS) or op.startswith("add-")


def _campaign_doc(parsed: CampaignForm, gettext: Gettext, *, with_code: bool) -> dict[str, Any]:
    v = parsed.values
    doc: dict[str, Any] = {"code": v["code"]} if with_code else {}
    doc["name"] = v["name"]
    for name in ("objective", "offer"):
        doc[name] = v[name] or None
    kinds = {"segment_id": int, "priority": int, "budget": Decimal, "cost_per_contact": Decimal,
             "starts_on": date, "ends_on": date}  # fmt: skip
    doc |= dict.fromkeys(kinds) | parsed.typed("", v, kinds, gettext)
    if doc["priority"] is None:
        doc.pop("priority")
    return doc  # an empty target segment is sent as None: a stored one is taken off


def _waves(parsed: CampaignForm, gettext: Gettext) -> list[dict[str, Any]]:
    kinds = {"scheduled_at": datetime, "expected_volume": int}
    return [
        {"name": row["name"]} | parsed.typed(f"waves-{i}-", row, kinds, gettext)
        for i, row in enumerate(parsed.waves)
    ]


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
        kinds = {k: t for k, t in kinds.items() if not (control and k in NOT_FOR_CONTROL)}
        cell |= parsed.typed(f"cells-{i}-", row, kinds, gettext)
        at = f"cells-{i}-share"
        share = parsed.convert(at, row["share"], float, gettext) if row["share"] else None
        if not row["share"]:
            parsed.add(at, gettext(REQUIRED))
        elif share is not None and not 0 < share <= 100:
            parsed.add(at, gettext(N_("Enter a percentage above 0, at most 100.")))
        elif share is not None:
            cell["share"] = round(share / 100, 6)
            total += share
        cells.append(cell)
    if cells and not parsed.errors and abs(total - 100) > 0.01:
        parsed.add("cells", gettext(SHARES) % {"total": f"{total:g}"})
    return cells


def targeting(parsed: CampaignForm, treatments: int, gettext: Gettext) -> dict[str, Any]:
    """The tests' settings (as :class:`~closedloop.campaigns.schemas.TestsCreate`): value-tier
    stratification, one per household and the A/B test (``ab_test`` None: no A/B test)."""
    v = parsed.values
    out: dict[str, Any] = {"stratify_by_tier": bool(v["stratify_by_tier"]),
                           "one_per_household": bool(v["one_per_household"]),
                           "ab_test": None}  # fmt: skip
    if not v["ab_test_share"]:
        return out
    ab: dict[str, Any] = {}
    share = parsed.convert("ab_test_share", v["ab_test_share"], float, gettext)
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
    hours = parsed.convert("ab_decide_after_hours", v["ab_decide_after_hours"] or "24", float,
                     gettext)  # fmt: skip
    if hours is not None and not 0 < hours <= 1440:
        parsed.add("ab_decide_after_hours", gettext(HOURS))
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


def _name_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    row = row_form.row_field(loc, ("waves", "cells"), lambda t: _RENAMED.get(t, t))
    if row or parts[:1] == ["tests"]:
        return row or _TESTS.get(".".join(parts[1:]), "form")
    return parts[0] if parts and parts[0] in CAMPAIGN_FIELDS else "form"


def pydantic_errors(parsed: CampaignForm, exc: ValidationError, gettext: Gettext) -> None:
    """Add the schema's errors to ``parsed``, each on its field; a row's own rule ("a channel
    is required") is said in its words, which name the cell already."""
    parsed.add_schema_errors(
        exc, gettext, _name_of, lambda name, msg: (name, msg.removeprefix("Value error, "))
    )


def _field_of(raw: str) -> str:
    """The form field of a field a service names (``cells[0].template``, ``tests.ab_test``)."""
    found = _DOTTED.match(raw)
    if found:
        return f"{found.group(1)}-{found.group(2)}-{found.group(3)}"
    if raw.startswith("tests."):
        return _TESTS.get(raw.removeprefix("tests."), "form")
    return raw if raw in CAMPAIGN_FIELDS + TEST_FIELDS else "form"


def domain_errors(parsed: CampaignForm, exc: DomainError, *, default: str = "form") -> None:
    """Add a service's refusal to ``parsed``, on the field it names (``cells[0].template``)."""
    parsed.add_refusal(exc, _field_of, default=default)
