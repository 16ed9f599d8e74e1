"""One row of a persons or organisations file, validated and standardised (pure: no database).

Names are cased and split, the email checked, phones put in E.164 in the row's country (the
address's, else the default), and the address checked and completed against the offline postal
reference (status valid / corrected / suspect / unknown, locality from the postal code, country
from the phone prefix, coordinates). Every problem of the row is reported, each with its field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from closedloop.contacts.fields import PERSON_FIELD_NAMES
from closedloop.contacts.validation import NOBODY, control_problem, identifies
from closedloop.ingest.validate import convert
from closedloop.ingest.validate.context import ChunkResult, Context, formula_problem
from closedloop.ingest.validate.convert import key_of
from closedloop.ingest.validate.emails import check_email
from closedloop.ingest.validate.names import split_full_name
from closedloop.ingest.validate.phones import parse_phone
from closedloop.postal import (
    AddressCheck,
    check_address,
    country_from_phone,
    locality_key,
)
from closedloop.vocab import LifecycleStatus

PERSON_FIELDS = PERSON_FIELD_NAMES
ORGANISATION_FIELDS = (
    "name",
    "legal_form",
    "registration_number",
    "industry",
    "employee_count",
    "annual_revenue",
    "website",
)
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "locality", "region", "country")
ADDRESS_COLUMNS = (
    "line1",
    "line2",
    "postal_code",
    "locality",
    "region",
    "country",
    "latitude",
    "longitude",
    "status",
    "status_detail",
)
#: Party columns the store writes in another form (dates as text, decimals as floats on
#: SQLite), each with how to read that form back.
TYPED_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "birth_date": date.fromisoformat,
    "annual_revenue": lambda v: Decimal(str(v)),
}
#: What a new record takes for a field its row leaves empty (both write paths of new rows:
#: :meth:`closedloop.ingest.write.persons.importer.PartyImporter._insert` and
#: :func:`closedloop.ingest.write.fresh.insert`)
NEW_DEFAULTS: dict[str, str] = {"lifecycle_status": LifecycleStatus.PROSPECT.value}
_CONTACT_FIELDS = frozenset({"email", "phone", "mobile", "street_number", *ADDRESS_FIELDS})
_POSTAL_CACHE: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_PLACE_FIELDS = frozenset(ADDRESS_FIELDS) - {"country"}
#: Values remembered per field (the readers are pure for one run): most columns of a file
#: repeat a few values (genders, birth dates, towns, first names).
MEMO_SIZE = 65_536
_MISSING = object()


@dataclass(slots=True, frozen=True)
class _Refused:
    """A remembered refusal: the reason the reader gave."""

    reason: str


@dataclass(slots=True)
class PartyRow:
    """A valid row of a persons or organisations file, ready to be written."""

    line_no: int
    key: str
    row_hash: str
    fields: dict[str, Any]
    emails: list[tuple[str, str]] = field(default_factory=list)
    phones: list[tuple[str, str, str]] = field(default_factory=list)  # e164, raw, line type
    address: dict[str, Any] | None = None
    attributes: list[tuple[str, list[Any]]] = field(default_factory=list)
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    #: A row from a worker: its fields as values in the party table's column order, its
    #: address as values in :data:`ADDRESS_COLUMNS` order (``fields`` and ``address`` are
    #: filled from them by :meth:`unpack` when a row updates a record)
    values: tuple[Any, ...] | None = None
    address_values: tuple[Any, ...] | None = None
    #: the id of the record created for the row
    id: int | None = None

    def pack(self, columns: tuple[str, ...]) -> tuple[Any, ...]:
        """The row as a flat tuple of plain values (a worker's answer: a dict costs several
        times more to pickle and unpickle); :meth:`unpacked` reads it back."""
        fields = self.fields
        return (
            self.line_no,
            self.key,
            self.row_hash,
            tuple([fields.get(c) for c in columns]),
            self.emails,
            self.phones,
            self.address_row(),
            self.attributes or None,
            self.identifiers or None,
        )

    @classmethod
    def unpacked(cls, packed: tuple[Any, ...]) -> PartyRow:
        """A row from :meth:`pack` (``fields`` and ``address`` empty until :meth:`unpack`)."""
        line_no, key, digest, values, emails, phones, address, attributes, identifiers = packed
        return cls(
            line_no, key, digest, {}, emails, phones, None, attributes or [], identifiers or [],
            values, address,
        )  # fmt: skip

    def unpack(self, columns: tuple[str, ...]) -> PartyRow:
        """Fill ``fields`` and ``address`` from the packed values (no-op otherwise)."""
        if self.values is not None and not self.fields:
            self.fields = {c: v for c, v in zip(columns, self.values, strict=True) if v is not None}
        if self.address_values is not None and self.address is None:
            self.address = dict(zip(ADDRESS_COLUMNS, self.address_values, strict=True))
        return self

    def column_values(self, columns: tuple[str, ...]) -> tuple[Any, ...]:
        """The fields in ``columns`` order."""
        if self.values is not None:
            return self.values
        return tuple([self.fields.get(c) for c in columns])

    def address_row(self) -> tuple[Any, ...] | None:
        """The address in :data:`ADDRESS_COLUMNS` order, or None."""
        if self.address_values is not None:
            return self.address_values
        a = self.address
        return None if a is None else tuple([a[c] for c in ADDRESS_COLUMNS])


def postal_check(
    country: str | None,
    postal_code: str | None,
    locality: str | None,
    region: str | None,
    phone: str | None,
) -> AddressCheck:
    """:func:`check_address` of one address (the phone gives the country when it is missing)."""
    return check_address(country, postal_code, locality, region, phone=phone)


def _checked(
    country: str | None,
    postal_code: str | None,
    locality: str | None,
    region: str | None,
    phone: str | None,
) -> tuple[Any, ...]:
    """The checked address columns (postal_code … status_detail), remembered per distinct
    input: most rows of a file repeat a town."""
    phone_country = country_from_phone(phone) if country is None and phone else None
    key = (country, phone_country, postal_code, locality, region)
    found = _POSTAL_CACHE.get(key)
    if found is not None:
        return found
    if len(_POSTAL_CACHE) > 50_000:
        _POSTAL_CACHE.clear()
    check = postal_check(country, postal_code, locality, region, phone)
    place = check.locality
    if (
        place
        and place.islower()
        and check.reference_locality
        and locality_key(check.reference_locality) == locality_key(place)
    ):
        place = check.reference_locality  # "paris" → "Paris", as the reference writes it
    found = (
        check.postal_code,
        place,
        check.region,
        check.country,
        check.latitude,
        check.longitude,
        check.status.value,
        _status_detail(check),
    )
    _POSTAL_CACHE[key] = found
    return found


def _status_detail(check: AddressCheck) -> str:
    parts = list(check.changes) or [check.detail]
    return "; ".join(p for p in parts if p)[:300]


#: Fields whose fault refuses the row: it cannot be stored without them.
_HARD = frozenset({"external_id"})


def prepare_party(
    ctx: Context, line_no: int, key: str, digest: str, values: list[str | None], out: ChunkResult
) -> PartyRow | None:
    """Validate one row; None (each problem reported in ``out``) when it cannot be kept.

    A fault in one value (a phone '12', a birth date '31/02/1980', an email that is not
    one) leaves that value out and is reported as a *warning* on the kept row. The row is
    *rejected* only when it holds a control character, its key is invalid, or what is left
    identifies nobody (:func:`closedloop.contacts.validation.identifies`).
    """
    kind = ctx.kind
    row: dict[str, Any] = {}
    hard: list[tuple[str | None, str | None, str]] = []
    faults: list[tuple[str | None, str | None, str]] = []

    def fail(name: str | None, raw: str | None, reason: str) -> None:
        (hard if name in _HARD else faults).append((name, raw, reason))

    raws: dict[str, str] = {}
    memos = ctx.memos
    for name, i, spec, reader in ctx.readers:
        raw = values[i]
        if not raw:  # None, or "" from the read-ahead's packed values (an empty cell)
            continue
        if raw[0] == "\x00":
            problem = formula_problem(raw)
            if problem:
                fail(name, None, problem)
                continue
        if not raw.isprintable():
            problem = control_problem(raw)
            if problem:
                hard.append((name, raw, problem))
                continue
        raws[name] = raw
        if reader is None:
            continue
        memo = memos.get(name) if len(raw) <= 256 else None
        if memo is None:
            try:
                row[name] = reader(spec, raw, ctx)
            except ValueError as exc:
                fail(name, raw, str(exc))
            continue
        value = memo.get(raw, _MISSING)
        if value is _MISSING:
            try:
                value = reader(spec, raw, ctx)
            except ValueError as exc:
                value = _Refused(str(exc))
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[raw] = value
        if type(value) is _Refused:
            fail(name, raw, value.reason)
        else:
            row[name] = value
    if row.get("full_name"):
        salutation, given, family = split_full_name(row.pop("full_name"))
        for name, value in (("salutation", salutation), ("given_name", given)):
            if value and not row.get(name):
                row[name] = value
        if family and not row.get("family_name"):
            row["family_name"] = family
    result = PartyRow(line_no, key, digest, {}, [], [], None, [], [])
    if "email" in raws:
        try:
            result.emails.append(check_email(raws["email"]))
        except ValueError as exc:
            fail("email", raws["email"], str(exc))
    country = row.get("country")
    if "street_number" in row:
        row["line1"] = with_number(
            row.get("line1"), row.pop("street_number"), country or ctx.default_country
        )
    phone_country = country or ctx.default_country
    for name in ("phone", "mobile"):
        if name not in raws:
            continue
        raw = raws[name]
        try:
            e164, line_type = parse_phone(raw, phone_country)
        except ValueError as exc:
            fail(name, raw, f"{exc} ({raw!r} read in {phone_country})")
            continue
        if all(p[0] != e164 for p in result.phones):
            result.phones.append((e164, raw.strip()[:64], line_type))
    if not hard and not _PLACE_FIELDS.isdisjoint(row):
        result.address_values = _address(ctx, row, result.phones[0][0] if result.phones else None)
    names = PERSON_FIELDS if kind.name == "persons" else ORGANISATION_FIELDS
    result.fields = {n: row[n] for n in names if row.get(n) is not None}
    if ctx.extensions:
        _extensions(ctx, values, result, fail, hard)
    if kind.name == "organisations" and not result.fields.get("name"):
        hard.append(("name", None, "an organisation needs a name"))
    elif kind.name == "persons" and not hard:
        fields = result.fields
        if not identifies(
            given_name=fields.get("given_name"),
            family_name=fields.get("family_name"),
            emails=result.emails,
            phones=result.phones,
            identifiers=result.identifiers,
            birth_date=fields.get("birth_date"),
            address=row.get("line1") or row.get("postal_code") or row.get("locality"),
        ):
            hard.append(("family_name", None, NOBODY))
    if hard:
        for where, raw, reason in (*faults, *hard):
            out.reject(line_no, where, raw, reason)
        return None
    for where, raw, reason in faults:
        out.warn(line_no, where, raw, reason + _LEFT_OUT)
    if kind.name == "persons":
        result.fields["given_key"] = key_of(result.fields.get("given_name"))
        result.fields["family_key"] = key_of(result.fields.get("family_name"))
    else:
        result.fields["name_key"] = key_of(result.fields["name"])
    return result


#: Said of every warning: what happened to the value.
_LEFT_OUT = "; the value was left out and the rest of the row kept"


#: Countries whose addresses put the house number before the street ("12 rue Oberkampf",
#: "221B Baker Street"); the others put it after ("Hauptstraße 5", "Calle Mayor 3").
NUMBER_FIRST = frozenset(
    {"FR", "US", "GB", "AU", "CA", "IE", "NZ", "LU", "MC", "ZA", "IN", "SG", "MY", "PH", "IL"}
)


def with_number(street: str | None, number: str | None, country: str) -> str | None:
    """The street line with its house number, placed by ``country``'s convention; the line
    unchanged when it already holds that number."""
    if not number:
        return street
    if not street:
        return number
    words = street.replace(",", " ").split()
    if number in (words[0], words[-1]):
        return street
    if country.upper() in NUMBER_FIRST:
        return f"{number} {street}"
    return f"{street} {number}"


def _address(ctx: Context, row: dict[str, Any], phone: str | None) -> tuple[Any, ...]:
    """The address in :data:`ADDRESS_COLUMNS` order, checked and completed."""
    country = row.get("country")
    if country is None and phone is None:
        country = ctx.default_country
    checked = _checked(
        country, row.get("postal_code"), row.get("locality"), row.get("region"), phone
    )
    return (row.get("line1"), row.get("line2"), *checked)


def _extensions(
    ctx: Context, values: list[str | None], result: PartyRow, fail: Any, hard: list[Any]
) -> None:
    """Catalogue attributes and extra identifiers of the row (``fail``: a value left out;
    ``hard``: the row refused)."""
    for col, (i, target) in ctx.extensions.items():
        raw = values[i]
        if not raw or not raw.strip():
            continue
        problem = None if raw.isprintable() else control_problem(raw)
        if problem:
            hard.append((col, raw, problem))
            continue
        problem = formula_problem(raw)
        if problem:
            fail(col, None, problem)
            continue
        if target.kind == "identifier":
            value = raw.strip()
            if len(value) > 128:
                fail(col, raw, f"an identifier is at most 128 characters, not {len(value):,}")
            else:
                result.identifiers.append((target.name, value))
            continue
        attr = ctx.attributes[target.name]
        try:
            result.attributes.append((attr.code, convert.attribute_values(attr, raw, ctx)))
        except ValueError as exc:
            fail(col, raw, str(exc))


#: Fields that are not columns of the party table.
CONTACT_FIELDS = _CONTACT_FIELDS
