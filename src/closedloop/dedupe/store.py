"""Read golden persons from the store into the dedupe engine's input (streamed by id range).

One record per golden person (``merged_into_id IS NULL``): names, birth date, the primary
email, phone and address (the first flagged primary, else the oldest), and one ``id_<scheme>``
column per identifier scheme. Plain SQL that runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, select
from sqlalchemy.orm import Session

from closedloop.contacts.models import Address, Email, Identifier, Person, Phone

if TYPE_CHECKING:
    import pandas as pd

CHUNK_SIZE = 50_000
_SCHEME = re.compile(r"[^a-z0-9_]+")
#: Identifier schemes with their own name in the engine; others become ``id_<scheme>``.
_KNOWN_SCHEMES = {"national_id": "national_id", "customer_number": "customer_number"}

Record = dict[str, Any]


def scheme_column(scheme: str) -> str:
    """The input column of an identifier scheme ("Loyalty Card" → ``id_loyalty_card``)."""
    text = scheme.strip().lower()
    if text in _KNOWN_SCHEMES:
        return _KNOWN_SCHEMES[text]
    return "id_" + (_SCHEME.sub("_", text).strip("_") or "other")


def _first(rows: Sequence[Any]) -> dict[int, Any]:
    """The first row per person id (rows come primary first, then oldest)."""
    out: dict[int, Any] = {}
    for row in rows:
        out.setdefault(row[0], row)
    return out


def records_where(
    session: Session,
    person_cond: ColumnElement[bool],
    owner_cond: Callable[[Any], ColumnElement[bool]],
) -> list[Record]:
    """Engine records of the persons matching ``person_cond``; ``owner_cond(model)`` narrows
    each contact table to the same persons (an indexed range or IN list)."""
    persons = session.execute(
        select(
            Person.id,
            Person.source_system,
            Person.external_id,
            Person.given_name,
            Person.family_name,
            Person.birth_date,
            Person.gender,
        )
        .where(person_cond, Person.merged_into_id.is_(None))
        .order_by(Person.id)
    ).all()
    if not persons:
        return []
    emails = _first(
        session.execute(
            select(Email.person_id, Email.address)
            .where(owner_cond(Email))
            .order_by(Email.person_id, Email.is_primary.desc(), Email.id)
        ).all()
    )
    phones = _first(
        session.execute(
            select(Phone.person_id, Phone.e164, Phone.line_type)
            .where(owner_cond(Phone))
            .order_by(Phone.person_id, Phone.is_primary.desc(), Phone.id)
        ).all()
    )
    addresses = _first(
        session.execute(
            select(
                Address.person_id,
                Address.line1,
                Address.line2,
                Address.postal_code,
                Address.locality,
                Address.region,
                Address.country,
            )
            .where(owner_cond(Address))
            .order_by(Address.person_id, Address.is_primary.desc(), Address.id)
        ).all()
    )
    identifiers: dict[int, dict[str, str]] = {}
    for pid, scheme, value in session.execute(
        select(Identifier.person_id, Identifier.scheme, Identifier.value)
        .where(owner_cond(Identifier))
        .order_by(Identifier.person_id, Identifier.id)
    ).all():
        identifiers.setdefault(pid, {}).setdefault(scheme_column(scheme), value)
    out: list[Record] = []
    for pid, source, external, given, family, born, gender in persons:
        email = emails.get(pid)
        phone = phones.get(pid)
        addr = addresses.get(pid)
        record: Record = {
            "record_id": str(pid),
            "source_system": source,
            "external_id": external,
            "given_name": given,
            "family_name": family,
            "birth_date": born.isoformat() if born is not None else None,
            "gender": gender,
            "email": email[1] if email else None,
            "phone": phone[1] if phone else None,
            "phone_line_type": phone[2] if phone else None,
            "street": addr[1] if addr else None,
            "address_line2": addr[2] if addr else None,
            "postal_code": addr[3] if addr else None,
            "locality": addr[4] if addr else None,
            "region": addr[5] if addr else None,
            "country": addr[6] if addr else None,
        }
        record.update(identifiers.get(pid, {}))
        out.append(record)
    return out


def _primary_id(model: Any) -> Any:
    """The id of a person's primary point of ``model`` (else the oldest), correlated."""
    return (
        select(model.id)
        .where(model.person_id == Person.id)
        .order_by(model.is_primary.desc(), model.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )


@lru_cache(maxsize=1)
def _records_statement() -> tuple[Select[*tuple[Any, ...]], Select[int, str, str]]:
    """The two reads of :func:`records_for`, built once (the online check runs them on every
    save; an expanding parameter takes the ids)."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    persons = (
        select(
            Person.id, Person.source_system, Person.external_id, Person.given_name,
            Person.family_name, Person.birth_date, Person.gender, Email.address, Phone.e164,
            Phone.line_type,
            Address.line1, Address.line2, Address.postal_code, Address.locality,
            Address.region, Address.country,
        )
        .outerjoin(Email, Email.id == _primary_id(Email))
        .outerjoin(Phone, Phone.id == _primary_id(Phone))
        .outerjoin(Address, Address.id == _primary_id(Address))
        .where(Person.id.in_(ids), Person.merged_into_id.is_(None))
        .order_by(Person.id)
    )  # fmt: skip
    identifiers = (
        select(Identifier.person_id, Identifier.scheme, Identifier.value)
        .where(Identifier.person_id.in_(ids))
        .order_by(Identifier.person_id, Identifier.id)
    )
    return persons, identifiers


def records_for(session: Session, person_ids: Sequence[int]) -> list[Record]:
    """Engine records of these persons (golden ones only), by id: two indexed queries, for
    the online check (the batch reads whole id ranges with :func:`iter_record_chunks`)."""
    ids = sorted(set(person_ids))
    if not ids:
        return []
    persons, identifier_stmt = _records_statement()
    rows = session.execute(persons, {"ids": ids}).all()
    if not rows:
        return []
    identifiers: dict[int, dict[str, str]] = {}
    for pid, scheme, value in session.execute(identifier_stmt, {"ids": ids}).all():
        identifiers.setdefault(pid, {}).setdefault(scheme_column(scheme), value)
    out: list[Record] = []
    for row in rows:
        record: Record = dict(zip(_FIELDS, row[1:], strict=True))
        record["record_id"] = str(row[0])
        born = record["birth_date"]
        record["birth_date"] = born.isoformat() if born is not None else None
        record.update(identifiers.get(row[0], {}))
        out.append(record)
    return out


_FIELDS = (
    "source_system", "external_id", "given_name", "family_name", "birth_date", "gender",
    "email", "phone", "phone_line_type", "street", "address_line2", "postal_code", "locality",
    "region", "country",
)  # fmt: skip


def _between(lo: int, hi: int) -> Callable[[Any], ColumnElement[bool]]:
    def cond(model: Any) -> ColumnElement[bool]:
        result: ColumnElement[bool] = model.person_id.between(lo, hi)
        return result

    return cond


def iter_record_chunks(session: Session, chunk_size: int = CHUNK_SIZE) -> Iterator[list[Record]]:
    """Every golden person's record, ``chunk_size`` persons at a time, in id order."""
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(Person.id)
                .where(Person.id > last, Person.merged_into_id.is_(None))
                .order_by(Person.id)
                .limit(chunk_size)
            )
        )
        if not ids:
            return
        lo, hi = ids[0], ids[-1]
        yield records_where(session, Person.id.between(lo, hi), _between(lo, hi))
        last = hi


def count_golden(session: Session) -> int:
    """How many golden persons the store holds."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).where(Person.merged_into_id.is_(None))) or 0)


def read_persons_frame(
    session: Session,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """All golden persons as the engine's input frame (``record_id`` is the person id)."""
    import pandas as pd

    frames: list[pd.DataFrame] = []
    done = 0
    for chunk in iter_record_chunks(session, chunk_size):
        frames.append(pd.DataFrame.from_records(chunk))
        done += len(chunk)
        if progress is not None:
            progress(done)
    if not frames:
        return pd.DataFrame({"record_id": pd.Series([], dtype=object)})
    return pd.concat(frames, ignore_index=True).astype(object)
