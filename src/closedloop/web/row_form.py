"""What the editors of a document with numbered rows share — the campaign editor (its waves
and cells) and the survey editor (its questions): the values and rows as typed, the errors by
field name and their summary, the check for control characters, the buttons that remove or
move a row, and the reading of a number or a date with its error in the page's language.

A row's field is named ``<kind>-<i>-<field>`` (``cells-0-share``, ``questions-2-text``); an
error named ``<kind>-<i>`` concerns the whole row. An editor's form is a dataclass with
``values``, its rows and ``errors`` that subclasses :class:`RowForm` and says what its rows
are (:meth:`RowForm.rows`), how a row is called (:meth:`RowForm.row_name`) and the label of
each field (``LABELS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from pydantic import ValidationError
from starlette.datastructures import FormData

from closedloop.contacts.validation import control_problem
from closedloop.errors import DomainError
from closedloop.i18n import N_
from closedloop.web.form_errors import pydantic_message

Gettext = Callable[[str], str]
Row = dict[str, str]

CONTROL_CHARACTER = N_("This text holds a control character, which cannot be stored.")
#: What to enter when a value does not read as its type.
NOT_READ: dict[Any, str] = {
    int: N_("Enter a whole number."),
    Decimal: N_("Enter a number."),
    float: N_("Enter a number."),
    date: N_("Enter a valid date (year-month-day)."),
    datetime: N_("Enter a valid date and time."),
}
_ROW = re.compile(r"^(\w+?)-(\d+)(?:-(\w+))?$")


class RowForm:
    """A form with rows as shown: its values, its rows and its errors by field name."""

    values: dict[str, str]
    errors: dict[str, list[str]]
    #: The label of each field, as the summary of errors names it.
    LABELS: ClassVar[Mapping[str, str]] = {}

    def rows(self) -> dict[str, list[Row]]:
        """The form's rows by kind (``{"questions": [...]}``), in form order."""
        raise NotImplementedError

    def row_name(self, kind: str, index: int, gettext: Gettext) -> str:
        """How the summary of errors calls row ``index`` of ``kind`` ("Cell 2")."""
        raise NotImplementedError

    def add(self, name: str, message: str) -> None:
        """Record ``message`` against field ``name`` (once)."""
        if message not in self.errors.setdefault(name, []):
            self.errors[name].append(message)

    def summary(self, gettext: Gettext) -> list[dict[str, str]]:
        """Every error with the row and field it names, in form order (``anchor``, ``where``,
        ``message``)."""
        kinds = self.rows()
        out: list[dict[str, str]] = []
        for name, messages in self.errors.items():
            found = _ROW.match(name)
            if found and found.group(1) in kinds:
                part = found.group(3)
                where = self.row_name(found.group(1), int(found.group(2)), gettext)
                if part:
                    where += " · " + gettext(self.LABELS.get(part, part))
                anchor = f"f-{name}" if part else name
            else:
                where, anchor = gettext(self.LABELS.get(name, name)), f"f-{name}"
            out.extend({"anchor": anchor, "where": where, "message": m} for m in messages)
        return out

    def check_controls(self, gettext: Gettext) -> None:
        """An error on each field holding a control character (NUL cannot even be stored)."""
        named = list(self.values.items())
        for kind, rows in self.rows().items():
            named += [(f"{kind}-{i}-{k}", v) for i, row in enumerate(rows) for k, v in row.items()]
        for name, value in named:
            if control_problem(value):
                self.add(name, gettext(CONTROL_CHARACTER))

    def convert(self, name: str, raw: str, kind: Any, gettext: Gettext) -> Any:
        """``raw`` as ``kind`` (int, Decimal, float, date, or datetime taken as UTC); None and
        an error on ``name`` when it does not read so."""
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
            self.add(name, gettext(NOT_READ[kind]))
            return None

    def typed(
        self, prefix: str, row: Mapping[str, str], kinds: Mapping[str, Any], gettext: Gettext
    ) -> dict[str, Any]:
        """The fields of ``row`` named in ``kinds`` that are filled in, each read as its kind
        (an error on ``<prefix><field>`` when it does not read so)."""
        return {
            name: self.convert(f"{prefix}{name}", row[name], kind, gettext)
            for name, kind in kinds.items()
            if row[name]
        }

    def add_schema_errors(
        self,
        exc: ValidationError,
        gettext: Gettext,
        name_of: Callable[[tuple[Any, ...]], str],
        rule: Callable[[str, str], tuple[str, str] | None],
    ) -> None:
        """Add the schema's errors, each on the form field ``name_of`` gives for its location.
        ``rule`` says a model's own rule (a ``value_error``: field and pydantic's message) as
        (field, message) — ("", "") to leave it out — or None for the usual message."""
        for error in exc.errors():
            name = name_of(tuple(error["loc"]))
            said = rule(name, str(error["msg"])) if error["type"] == "value_error" else None
            if said is None:
                self.add(name, pydantic_message(gettext, error))
            elif said[0]:
                self.add(*said)

    def add_refusal(
        self, exc: DomainError, name_of: Callable[[str], str], *, default: str = "form"
    ) -> None:
        """Add a service's refusal, each error on the form field ``name_of`` gives for the
        field it names (``default`` when it names none)."""
        for e in exc.errors or [{"field": default, "message": exc.detail}]:
            name = name_of(str(e.get("field", default)))
            self.add(name, str(e.get("message") or e.get("reason") or exc.detail))


def row_field(
    loc: tuple[Any, ...], kinds: tuple[str, ...], tail: Callable[[str], str]
) -> str | None:
    """The form field of a schema error's location in a row (``("cells", 0, "share")`` →
    ``cells-0-share``; ``tail`` gives the form's name of the row's field, "" for the row);
    None when the location is in no row of ``kinds``."""
    parts = [str(p) for p in loc]
    if len(parts) < 2 or parts[0] not in kinds or not parts[1].isdigit():
        return None
    part = tail(parts[2]) if len(parts) > 2 else ""
    return f"{parts[0]}-{parts[1]}" + (f"-{part}" if part else "")


def text(form: FormData, name: str) -> str:
    """Field ``name`` of the submitted form, stripped ("" when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def read_values(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    """The submitted values of ``names``, as typed."""
    return {name: text(form, name) for name in names}


def read_rows(form: FormData, kind: str, names: tuple[str, ...], most: int) -> list[Row]:
    """The submitted rows ``<kind>-<i>-<name>`` in the order of ``i`` (``most`` at the most)."""
    pattern = re.compile(rf"^{kind}-(\d+)(?:-\w+)?$")
    indexes = sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})
    return [{name: text(form, f"{kind}-{i}-{name}") for name in names} for i in indexes[:most]]


def apply_row_op(
    op: str, rows: Mapping[str, list[Row]], blank: Mapping[str, Callable[[list[Row]], Row]],
    most: int,
) -> bool:  # fmt: skip
    """Do what button ``op`` asks: ``add-<kind>`` a ``blank`` row (up to ``most``), or
    ``remove-``, ``up-`` or ``down-<kind>-<i>``, ``rows`` being the form's rows by ``kind``
    (``{"question": …}``); False when ``op`` is no such button."""
    if op.startswith("add-") and op[4:] in rows:
        kind_rows = rows[op[4:]]
        if len(kind_rows) < most:
            kind_rows.append(blank[op[4:]](kind_rows))
        return True
    found = re.fullmatch(r"(remove|up|down)-(\w+)-(\d+)", op)
    if not found or found.group(2) not in rows:
        return False
    move_row(rows[found.group(2)], found.group(1), int(found.group(3)))
    return True


def move_row(rows: list[Row], verb: str, index: int) -> None:
    """``remove`` row ``index``, or move it ``up`` or ``down`` (nothing beyond either end)."""
    if index >= len(rows):
        return
    if verb == "remove":
        rows.pop(index)
        return
    other = index - 1 if verb == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
