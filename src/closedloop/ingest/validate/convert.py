"""Read one cell for one field: the validator chosen by the field's type.

Every function raises ValueError with the reason shown in the rejects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from closedloop.contacts.normalize import search_key
from closedloop.ingest.map.fields import Field
from closedloop.ingest.map.mapping import slug
from closedloop.ingest.validate import values as v
from closedloop.ingest.validate.names import clean_name
from closedloop.vocab import (
    Channel,
    ConsentMethod,
    LifecycleStatus,
    Purpose,
    RelationshipType,
)

_LIFECYCLE = v.options(
    [s.value for s in LifecycleStatus],
    client="customer", clients="customer", cliente="customer", kunde="customer",
    buyer="customer", acheteur="customer", active="customer", actif="customer",
    prospecto="prospect", interessent="prospect", lead="prospect", piste="prospect",
    inactive="lapsed", inactif="lapsed", ancien_client="lapsed", former="lapsed",
    churned="lapsed", perdu="lapsed", inactivo="lapsed", inaktiv="lapsed", inactiv="lapsed",
    reactivated="won_back", reconquis="won_back", recuperado="won_back",
    zuruckgewonnen="won_back", recastigat="won_back", won_back="won_back", winback="won_back",
)  # fmt: skip
_CHANNEL = v.options(
    [c.value for c in Channel],
    e_mail="email", mail="email", courriel="email", correo="email", text="sms",
    telephone="phone", tel="phone", telefon="phone", telefono="phone", call="phone",
    courrier="letter", post="letter", postal="letter", brief="letter", carta="letter",
    scrisoare="letter", posta="letter", evenement="event", evento="event",
    veranstaltung="event", eveniment="event",
)  # fmt: skip
_PURPOSE = v.options(
    [p.value for p in Purpose],
    survey="surveys", sondage="surveys", enquete="surveys", encuesta="surveys",
    umfrage="surveys", sondaj="surveys", event="events", evenements="events",
    partner="partners", partenaires="partners", socios="partners", parteneri="partners",
    offers="marketing", offres="marketing", publicite="marketing", werbung="marketing",
    lettre_d_information="newsletter", boletin="newsletter",
)  # fmt: skip
_STATE = v.options(
    ["granted", "withdrawn"],
    yes="granted", oui="granted", si="granted", ja="granted", da="granted", true="granted",
    opt_in="granted", optin="granted", accepted="granted", accepte="granted", given="granted",
    consent="granted", **{"1": "granted", "0": "withdrawn"},
    no="withdrawn", non="withdrawn", nein="withdrawn", nu="withdrawn", false="withdrawn",
    opt_out="withdrawn", optout="withdrawn", refused="withdrawn", refuse="withdrawn",
    revoked="withdrawn", retire="withdrawn", unsubscribed="withdrawn", desabonne="withdrawn",
)  # fmt: skip
_METHOD = v.options([m.value for m in ConsentMethod], web="web_form", form="web_form")
_RELATION = v.options(
    [r.value for r in RelationshipType],
    household="household_member", foyer="household_member", membre_du_foyer="household_member",
    famille="family", familie="family", familia="family", employee="employee_of",
    employe="employee_of", salarie="employee_of", mitarbeiter="employee_of",
    empleado="employee_of", angajat="employee_of", works_for="employee_of",
    decideur="decision_maker", decision="decision_maker", entscheider="decision_maker",
    decisor="decision_maker", referred="referred_by", parrain="referred_by",
    parraine_par="referred_by", referral="referred_by", empfohlen_von="referred_by",
)  # fmt: skip
_MULTI_SPLIT = re.compile(r"\s*[;|,]\s*")


class ReadOptions(Protocol):
    """What the value readers need of an import run
    (:class:`~closedloop.ingest.validate.context.Context` has it)."""

    date_order: str


#: A field's value reader: (field, raw text, options) → the value; raises ValueError.
Reader = Callable[[Field, str, ReadOptions], Any]


@dataclass
class AttributeDef:
    """A catalogue attribute as the import uses it; ``id`` is None until created."""

    code: str
    type: str
    id: int | None
    label: str
    #: search key of a code or label (any language) → choice code
    choice_keys: dict[str, str] = field(default_factory=dict)
    #: choice code → id (None until created)
    choice_ids: dict[str, int | None] = field(default_factory=dict)
    #: New choices may be added (the attribute was named with --as-attribute).
    open: bool = False
    #: label (as written in the file) of each choice added by this import
    new_labels: dict[str, str] = field(default_factory=dict)


def text(raw: str, limit: int | None) -> str | None:
    """Trimmed text, white space collapsed, within ``limit`` characters."""
    value = " ".join(raw.split())
    if limit is not None and len(value) > limit:
        raise ValueError(f"too long: {len(value):,} characters (at most {limit})")
    return value or None


@lru_cache(maxsize=131072)
def _cased(raw: str, family: bool, limit: int | None) -> str | None:
    value = text(raw, limit)
    return clean_name(value, family=family) if value else None


def _name(f: Field, raw: str, ctx: ReadOptions) -> Any:
    if len(raw) > 1000:
        return text(raw, f.max_length)  # raises: too long (not worth a cache entry)
    return _cased(raw, f.name == "family_name", f.max_length)


def _postal_code(f: Field, raw: str, ctx: ReadOptions) -> Any:
    value = text(raw, f.max_length)
    return value.upper() if value else None


@lru_cache(maxsize=65536)
def key_of(value: str | None) -> str | None:
    """:func:`closedloop.contacts.normalize.search_key`, remembered (names repeat)."""
    return search_key(value)


#: NUMERIC (precision, scale) of a catalogue attribute's number (``value_number``)
NUMBER = (18, 4)

READERS: dict[str, Reader] = {
    "text": lambda f, raw, ctx: text(raw, f.max_length),
    "key": lambda f, raw, ctx: text(raw, f.max_length),
    "name": _name,
    "full_name": lambda f, raw, ctx: text(raw, f.max_length),
    "postal_code": _postal_code,
    "gender": lambda f, raw, ctx: v.parse_gender(raw),
    "birth_date": lambda f, raw, ctx: v.parse_birth_date(raw, ctx.date_order),
    "date": lambda f, raw, ctx: v.parse_date(raw, ctx.date_order),
    "datetime": lambda f, raw, ctx: v.parse_datetime(raw, ctx.date_order),
    "language": lambda f, raw, ctx: v.parse_language(raw),
    "lifecycle": lambda f, raw, ctx: v.choice(raw, _LIFECYCLE, "lifecycle status"),
    "channel": lambda f, raw, ctx: v.choice(raw, _CHANNEL, "channel"),
    "purpose": lambda f, raw, ctx: v.choice(raw, _PURPOSE, "purpose"),
    "consent_state": lambda f, raw, ctx: v.choice(raw, _STATE, "consent state"),
    "consent_method": lambda f, raw, ctx: v.choice(raw, _METHOD, "consent method"),
    "relationship_kind": lambda f, raw, ctx: v.choice(raw, _RELATION, "relationship kind"),
    "country": lambda f, raw, ctx: v.parse_country(raw),
    "currency": lambda f, raw, ctx: v.parse_currency(raw),
    "int": lambda f, raw, ctx: v.parse_int(raw),
    "amount": lambda f, raw, ctx: v.bounded(v.parse_amount(raw), *(f.digits or v.MONEY)),
    "decimal": lambda f, raw, ctx: v.bounded(v.parse_decimal(raw), *(f.digits or NUMBER)),
    "bool": lambda f, raw, ctx: v.parse_bool(raw),
}


def read(f: Field, raw: str, ctx: ReadOptions) -> Any:
    """The value of ``raw`` for field ``f`` (types ``email`` and ``phone`` are read by the
    caller, which knows the row's country)."""
    return READERS[f.type](f, raw, ctx)


def choice_key(value: str) -> str:
    """The key choices are matched on: case, accents, spaces and punctuation ignored."""
    return slug(value)


def attribute_values(attr: AttributeDef, raw: str, ctx: ReadOptions) -> list[Any]:
    """The typed value(s) of a catalogue attribute; choices matched by code or any label.

    A choice attribute named with ``--as-attribute`` gets new choices for new values; an
    existing one refuses them, listing the allowed ones.
    """
    typ = attr.type
    if typ == "number":
        return [v.bounded(v.parse_decimal(raw), *NUMBER)]
    if typ == "date":
        return [v.parse_date(raw, ctx.date_order)]
    if typ == "boolean":
        return [v.parse_bool(raw)]
    if typ == "text":
        return [text(raw, 1000)]
    parts = [raw.strip()] if typ == "choice" else [p for p in _MULTI_SPLIT.split(raw) if p]
    codes: list[str] = []
    for part in parts:
        code = attr.choice_keys.get(choice_key(part))
        if code is None:
            if not attr.open:
                allowed = ", ".join(sorted(attr.choice_ids)) or "none defined"
                raise ValueError(f"unknown choice {part!r} for {attr.code} (allowed: {allowed})")
            if len(part) > 200:
                raise ValueError(f"a choice label is at most 200 characters, not {len(part):,}")
            code = choice_key(part)[:64]
            attr.choice_keys[choice_key(part)] = code
            attr.choice_ids.setdefault(code, None)
            attr.new_labels.setdefault(code, part)
        if code not in codes:
            codes.append(code)
    return codes


def infer_type(samples: list[str]) -> str:
    """The attribute type that fits every sample: number, date, boolean, choice or text."""
    values = [s for s in samples if s and s.strip()]
    if not values:
        return "text"

    def all_ok(fn: Callable[[str], Any]) -> bool:
        for s in values:
            try:
                fn(s)
            except ValueError:
                return False
        return True

    if all_ok(v.parse_decimal):
        return "number"
    if all_ok(v.parse_date):
        return "date"
    if all_ok(v.parse_bool):
        return "boolean"
    distinct = {search_key(s) for s in values}
    if len(distinct) <= max(20, len(values) // 50) and all(len(s) <= 60 for s in values):
        if any(_MULTI_SPLIT.search(s.strip()) for s in values if ";" in s or "|" in s):
            return "multi_choice"
        return "choice"
    return "text"
