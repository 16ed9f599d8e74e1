"""Which column of a file goes where: suggestions from header names, saved profiles, and the
refusal that lists every column matching nothing, with the one-step ways out.

A target is a field of the kind (``given_name``), ``attribute:CODE[:TYPE]`` (a catalogue
attribute; created when new), ``identifier:SCHEME`` (an extra identifier of the person) or
``ignore``. A column is never dropped silently: it must map to one of those.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from closedloop.contacts.normalize import search_key
from closedloop.errors import ValidationFailed
from closedloop.ingest.map.fields import Kind
from closedloop.ingest.map.synonyms import QUALIFIERS, header_key, index
from closedloop.vocab import AttributeType

IGNORE = "ignore"
_SLUG = re.compile(r"[^a-z0-9]+")
ATTRIBUTE_TYPES = tuple(t.value for t in AttributeType)
_TYPE_ALIASES = {
    "int": "number",
    "integer": "number",
    "float": "number",
    "decimal": "number",
    "numeric": "number",
    "bool": "boolean",
    "string": "text",
    "str": "text",
    "enum": "choice",
    "multi": "multi_choice",
    "multichoice": "multi_choice",
    "list": "multi_choice",
}


def slug(name: str) -> str:
    """A code made from a header: ``"Nombre d'enfants"`` → ``"nombre_d_enfants"``."""
    return _SLUG.sub("_", search_key(name) or "").strip("_")[:64] or "column"


@dataclass(frozen=True)
class Target:
    """Where one column goes."""

    kind: str  # field, attribute, identifier, ignore
    name: str = ""
    type: str | None = None

    def __str__(self) -> str:
        if self.kind == "field":
            return self.name
        if self.kind == "attribute":
            return f"attribute:{self.name}" + (f":{self.type}" if self.type else "")
        if self.kind == "identifier":
            return f"identifier:{self.name}"
        return IGNORE


def parse_target(kind: Kind, text: str) -> Target:
    """Read ``given_name``, ``attribute:children:number``, ``identifier:vat`` or ``ignore``."""
    value = text.strip()
    low = value.lower()
    if low in (IGNORE, "skip", "-"):
        return Target("ignore")
    if low.startswith("attribute:"):
        parts = value.split(":")
        code = slug(parts[1]) if len(parts) > 1 and parts[1] else ""
        if not code:
            raise ValueError(f"{text!r}: name the attribute, e.g. attribute:children:number")
        typ = attribute_type(parts[2]) if len(parts) > 2 and parts[2] else None
        return Target("attribute", code, typ)
    if low.startswith("identifier:"):
        scheme = slug(value.split(":", 1)[1])
        if scheme == "column":
            raise ValueError(f"{text!r}: name the scheme, e.g. identifier:customer_number")
        return Target("identifier", scheme)
    if kind.field(low) is None:
        raise ValueError(f"{text!r} is not a field of {kind.name}; fields: {', '.join(kind.names)}")
    return Target("field", low)


def attribute_type(text: str) -> str:
    """A catalogue type from ``number``, ``int``, ``date``, ``bool``, ``choice``…"""
    low = text.strip().lower()
    low = _TYPE_ALIASES.get(low, low)
    if low not in ATTRIBUTE_TYPES:
        raise ValueError(f"unknown attribute type {text!r}; use {', '.join(ATTRIBUTE_TYPES)}")
    return low


@dataclass
class Mapping:
    """The effective mapping of one file: column → target, in file order."""

    kind: str
    columns: dict[str, Target]
    suggested: dict[str, str] = field(default_factory=dict)
    #: attributes named with --as-attribute: new values of a choice become new choices
    open_attributes: set[str] = field(default_factory=set)

    def fields(self) -> dict[str, int]:
        """Field name → column index, for the columns mapped to a field."""
        return {t.name: i for i, t in enumerate(self.columns.values()) if t.kind == "field"}

    def as_json(self) -> dict[str, str]:
        """``{"column": "target"}`` (what a profile stores)."""
        return {col: str(t) for col, t in self.columns.items()}

    def signature(self) -> str:
        """A stable text of the mapping: part of every row hash."""
        return "|".join(f"{c}={t}" for c, t in self.columns.items())


@dataclass(frozen=True)
class Catalogue:
    """The attributes and identifier schemes already defined, for suggestions."""

    attributes: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    schemes: tuple[str, ...] = ()


def suggest(kind: Kind, headers: list[str], catalogue: Catalogue | None = None) -> dict[str, str]:
    """The target each header suggests (``{}`` entry missing when none matches)."""
    names = index(kind.name)
    found: dict[str, str] = {}
    taken: set[str] = set()
    attr_index: dict[str, str] = {}
    if catalogue and kind.extensible:
        for code, (_typ, labels) in catalogue.attributes.items():
            attr_index.setdefault(header_key(code), code)
            for label in labels.values():
                attr_index.setdefault(header_key(label), code)
    for header in headers:
        target = _match(header, names)
        if target is not None and target not in taken:
            found[header] = target
            taken.add(target)
            continue
        key = header_key(header)
        if key in attr_index:
            code = attr_index[key]
            found[header] = f"attribute:{code}:{catalogue.attributes[code][0]}"  # type: ignore[union-attr]
        elif catalogue and kind.extensible and slug(header) in catalogue.schemes:
            found[header] = f"identifier:{slug(header)}"
    # "Name" is the family name next to a first-name column (Vorname/Name), else the whole name.
    if kind.name == "persons" and "given_name" in taken and "family_name" not in taken:
        for header, target in found.items():
            if target == "full_name":
                found[header] = "family_name"
    return found


def _match(header: str, names: dict[str, str]) -> str | None:
    key = header_key(header)
    if key in names:
        return names[key]
    words = [w for w in re.split(r"[\s_\-./]+", header.strip()) if w]
    while len(words) > 1 and header_key(words[0]) in {header_key(q) for q in QUALIFIERS}:
        words = words[1:]
        key = header_key(" ".join(words))
        if key in names:
            return names[key]
    return None


@dataclass
class MappingRequest:
    """What the user said about the mapping (all optional)."""

    profile: dict[str, str] | None = None
    explicit: dict[str, str] = field(default_factory=dict)
    as_attribute: list[str] = field(default_factory=list)
    as_identifier: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)


def _column_spec(spec: str, headers: list[str]) -> tuple[str, str | None]:
    """``"Kids:number"`` → (``"Kids"``, ``"number"``); the column may itself hold a colon."""
    if spec in headers:
        return spec, None
    col, sep, extra = spec.rpartition(":")
    if sep and col:
        return col, extra or None
    return spec, None


def _find(headers: list[str], name: str) -> str | None:
    if name in headers:
        return name
    low = name.strip().casefold()
    return next((h for h in headers if h.casefold() == low), None)


def resolve(
    kind: Kind,
    headers: list[str],
    request: MappingRequest,
    catalogue: Catalogue | None = None,
) -> Mapping:
    """The mapping of ``headers``; ValidationFailed lists every problem and the ways out."""
    errors: list[dict[str, Any]] = []
    suggested = suggest(kind, headers, catalogue)
    chosen: dict[str, str] = dict(suggested)
    if request.profile:
        chosen.update({c: t for c, t in request.profile.items() if c in headers})

    def put(spec_name: str, target: str, option: str) -> None:
        col = _find(headers, spec_name)
        if col is None:
            errors.append({"field": option, "message": f"no column {spec_name!r} in the file"})
            return
        chosen[col] = target

    for col, wanted in request.explicit.items():
        put(col, wanted, "--map")
    open_attributes: set[str] = set()
    for spec in request.as_attribute:
        col, typ = _column_spec(spec, headers)
        put(col, f"attribute:{slug(col)}" + (f":{typ}" if typ else ""), "--as-attribute")
        open_attributes.add(slug(col))
    for spec in request.as_identifier:
        col, scheme = _column_spec(spec, headers)
        put(col, f"identifier:{slug(scheme or col)}", "--as-identifier")
    for col in request.ignore:
        put(col, IGNORE, "--ignore")
    columns: dict[str, Target] = {}
    for header in headers:
        text = chosen.get(header)
        if text is None:
            continue
        try:
            target = parse_target(kind, text)
        except ValueError as exc:
            errors.append({"field": header, "message": str(exc)})
            continue
        if (target.kind in ("attribute", "identifier") and not kind.extensible) or (
            target.kind == "identifier" and kind.name != "persons"
        ):
            errors.append(
                {"field": header, "message": f"{kind.name} imports take no {target.kind}s"}
            )
            continue
        columns[header] = target
    _check_duplicates(columns, errors)
    unmapped = [h for h in headers if h not in columns]
    if unmapped:
        errors.extend(_unmapped_errors(kind, headers, unmapped))
    _check_required(kind, columns, errors)
    if errors:
        raise ValidationFailed(_summary(kind, unmapped, errors), errors=errors)
    ordered = {h: columns[h] for h in headers}
    return Mapping(
        kind=kind.name, columns=ordered, suggested=suggested, open_attributes=open_attributes
    )


def _check_duplicates(columns: dict[str, Target], errors: list[dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for col, target in columns.items():
        if target.kind == "ignore":
            continue
        key = str(target).rsplit(":", 1)[0] if target.kind == "attribute" else str(target)
        if key in seen:
            errors.append(
                {
                    "field": col,
                    "message": f"both {seen[key]!r} and {col!r} map to {key}; "
                    f"ignore one of them (--ignore {col!r})",
                }
            )
        else:
            seen[key] = col


def _check_required(kind: Kind, columns: dict[str, Target], errors: list[dict[str, Any]]) -> None:
    mapped = {t.name for t in columns.values() if t.kind == "field"}
    for need in kind.required:
        options = need if isinstance(need, tuple) else (need,)
        if not mapped.intersection(options):
            what = " or ".join(options)
            errors.append(
                {"field": options[0], "message": f"a {kind.name} file needs a column for {what}"}
            )


def _unmapped_errors(kind: Kind, headers: list[str], unmapped: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for col in unmapped:
        q = shlex.quote(col)
        ways = f"--map {shlex.quote(col + '=FIELD')}, --ignore {q}"
        if kind.extensible:
            extra = f"--as-attribute {shlex.quote(col + ':TYPE')} (a catalogue attribute), "
            if kind.name == "persons":
                extra += f"--as-identifier {q} (an extra identifier), "
            ways = extra + ways
        out.append({"field": col, "message": f"matches no field; use {ways}"})
    if len(headers) == 1:
        for delim, name in ((";", "';'"), ("\t", "TAB"), ("|", "'|'"), (",", "','")):
            if delim in headers[0]:
                out.append(
                    {
                        "field": headers[0],
                        "message": f"the file has a single column whose name contains {name}: "
                        f"the delimiter is probably {name} (--delimiter)",
                    }
                )
                break
    return out


def _summary(kind: Kind, unmapped: list[str], errors: list[dict[str, Any]]) -> str:
    if unmapped:
        listed = ", ".join(repr(c) for c in unmapped[:20])
        more = f" and {len(unmapped) - 20} more" if len(unmapped) > 20 else ""
        return (
            f"{len(unmapped)} column(s) match no field of {kind.name}: {listed}{more}. "
            "Nothing was imported. Map each one to an attribute, an identifier or a field, "
            "or ignore it."
        )
    return f"The mapping of this {kind.name} file is not usable: {errors[0]['message']}."


def parse_pairs(values: list[str]) -> dict[str, str]:
    """``["Nom=family_name", …]`` → ``{"Nom": "family_name"}``; ValueError on a bad item."""
    out: dict[str, str] = {}
    for item in values:
        col, sep, target = item.rpartition("=")
        if not sep or not col.strip() or not target.strip():
            raise ValueError(f"{item!r}: use COLUMN=FIELD")
        out[col.strip()] = target.strip()
    return out
