"""The online blocking index: each golden person's match keys in ``person_match_keys``.

Keys are the batch engine's blocking keys, made by the same prepare functions
(:func:`prepare_one` gives for one record exactly what
:func:`closedloop.dedupe.engine.prepare.prepare_persons` gives for a frame). A lookup is a
handful of indexed equality reads; a key shared by more than ``online_block_cap`` persons
is skipped as too common, as the batch drops blocks above ``max_block_size``.

Next to its keys, each golden person has its prepared record (``person_match_records``, compact
JSON), so the online check scores candidates without reading and preparing them again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, delete, select
from sqlalchemy.orm import Session

from closedloop.db.bulk import writer_for
from closedloop.dedupe.engine import prepare as pp
from closedloop.dedupe.engine.blocking import BLOCKING_KEYS
from closedloop.dedupe.models import PersonMatchKey, PersonMatchRecord
from closedloop.dedupe.store import Record, records_for

#: key kind → prepared columns (all must be present): the batch engine's blocking keys, so
#: the check at entry finds what a batch run would compare (identifiers: ``id:<column>``).
KEY_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (key.name, key.columns) for key in BLOCKING_KEYS
)
MAX_KEY = 200

Prepared = dict[str, Any]


def _identifier_targets(record: Record) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, target in pp.IDENTIFIERS.items():
        if name in record:
            found[name] = target
    for column in record:
        text = str(column).strip().lower()
        if text.startswith("id_") and column not in found:
            found[column] = re.sub(r"[^a-z0-9_]", "_", text)
    return found


def prepare_one(record: Record) -> Prepared:
    """One record standardised exactly as ``prepare_persons`` would (canonical names only)."""
    get = record.get
    tokens = " ".join(pp.name_tokens(get("given_name"))) or None
    given = tokens.replace(" ", "") if tokens else None
    given_first = tokens.split()[0] if tokens else None
    family = pp.name_key(get("family_name"))
    dob = pp.birth_date_key(get("birth_date"))
    email = pp.email_key(get("email"))
    number_from_street, words = pp.split_street(get("street"))
    number = pp.number_key(get("street_number"))
    street = pp.street_key(words)
    out: Prepared = {
        "unique_id": str(get("record_id")),
        "given": given,
        "given_first": given_first,
        "given_canon": pp.canonical_given(given_first),
        "given_phon": pp.phonetic(given),
        "given_initial": given[0] if given else None,
        "family": family,
        "family_phon": pp.phonetic(family),
        "dob": dob,
        "dob_year": dob[:4] if dob else None,
        "email": email,
        "email_user": pp.email_user_key(email),
        "phone": pp.phone_key(get("phone")),
        "street_number": number if number is not None else number_from_street,
        "street": street,
        "street_phon": pp.phonetic(street),
        "line2": pp.locality_key(get("address_line2")),
        "locality": pp.locality_key(get("locality")),
        "postcode": pp.postcode_key(get("postal_code")),
        "region": pp.locality_key(get("region")),
        "country": pp.identifier_key(get("country")),
        "gender": pp.gender_key(get("gender")),
    }
    for source, target in _identifier_targets(record).items():
        value = pp.identifier_key(record[source])
        out[target] = value
        out[f"{target}_sorted"] = "".join(sorted(value)) if value is not None else None
    gp, fp = out["given_phon"], out["family_phon"]
    out["name_pair_phon"] = _pair(gp, fp)
    out["initials_pair"] = _pair(given[0] if given else None, family[0] if family else None)
    out["family_prefix"] = family[:3] if family else None
    out["street_prefix"] = street[:6] if street else None
    out["address_pair"] = _pair(street, out["line2"])
    return out


def _pair(a: str | None, b: str | None) -> str | None:
    """Both values in alphabetical order (as ``prepare._name_pair``), or None."""
    return f"{min(a, b)} {max(a, b)}" if a and b else None


def keys_of(prepared: Prepared) -> list[tuple[str, str]]:
    """(kind, value) of every key the record has; identifiers give ``id:<column>`` keys."""
    keys: list[tuple[str, str]] = []
    for kind, columns in KEY_KINDS:
        parts = [prepared.get(c) for c in columns]
        if all(p is not None and p != "" for p in parts):
            keys.append((kind, "|".join(str(p) for p in parts)[:MAX_KEY]))
    for column, value in prepared.items():
        if column.startswith("id_") and not column.endswith("_sorted") and value:
            keys.append((f"id:{column[3:]}"[:32], str(value)[:MAX_KEY]))
    return keys


def profile_json(prepared: Prepared) -> str:
    """The stored form of a prepared record: its non-empty columns as compact JSON."""
    data = {
        k: v
        for k, v in prepared.items()
        if v is not None and v != "" and (k in _PROFILE_COLUMNS or k.startswith("id_"))
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def profile_from(person_id: int, data: str) -> Prepared:
    """A prepared record back from :func:`profile_json` (missing columns are None)."""
    out: Prepared = dict(_EMPTY)
    out.update(json.loads(data))
    out["unique_id"] = str(person_id)
    return out


_PROFILE_COLUMNS = frozenset(pp.PREPARED_COLUMNS)
_EMPTY: Prepared = dict.fromkeys(pp.PREPARED_COLUMNS)


def read_profiles(session: Session, person_ids: Sequence[int]) -> dict[int, Prepared]:
    """Stored prepared records of these persons (golden persons with keys only)."""
    if not person_ids:
        return {}
    rows = session.execute(_profiles_statement(), {"ids": sorted(set(person_ids))}).all()
    return {int(pid): profile_from(int(pid), data) for pid, data in rows}


@lru_cache(maxsize=1)
def _profiles_statement() -> Select[int, str]:
    """Built once: the online check runs it on every save."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    return select(PersonMatchRecord.person_id, PersonMatchRecord.data).where(
        PersonMatchRecord.person_id.in_(ids)
    )


def delete_keys(session: Session, person_ids: Sequence[int]) -> None:
    """Forget the keys of these persons (merged away, or about to be recomputed)."""
    if person_ids:
        ids = list(person_ids)
        session.execute(delete(PersonMatchKey).where(PersonMatchKey.person_id.in_(ids)))
        session.execute(delete(PersonMatchRecord).where(PersonMatchRecord.person_id.in_(ids)))


def write_keys(session: Session, prepared: Iterable[Prepared]) -> int:
    """Insert the keys and the prepared record of prepared records (``unique_id`` is the
    person id); returns the number of key rows."""
    keys: list[tuple[int, str, str]] = []
    profiles: list[tuple[int, str]] = []
    for p in prepared:
        pid = int(p["unique_id"])
        profiles.append((pid, profile_json(p)))
        keys.extend((pid, kind, value) for kind, value in keys_of(p))
    # Plain strings and ints through the driver: the ORM's bulk insert cost more than SQLite's
    # own work for the ~19 key rows of each person (a whole-base rebuild writes millions).
    writer = writer_for(session.connection())
    writer.insert(PersonMatchRecord.__tablename__, ("person_id", "data"), profiles, converted=True)
    writer.insert(
        PersonMatchKey.__tablename__, ("person_id", "key_kind", "key_value"), keys, converted=True
    )
    return len(keys)


def refresh_keys(session: Session, person_ids: Sequence[int]) -> None:
    """Recompute the keys of these persons from the store (merged-away persons get none)."""
    delete_keys(session, person_ids)
    write_keys(session, (prepare_one(r) for r in records_for(session, person_ids)))


def prepare_chunk(chunk: list[Record]) -> list[Prepared]:
    """Prepared records of many records at once (the engine's frame preparation: each
    distinct value is standardised once), equal to :func:`prepare_one` per record."""
    if not chunk:
        return []
    import pandas as pd  # a bulk path only: the online check never loads pandas

    frame = pd.DataFrame.from_records(chunk).drop(columns=["phone_line_type"], errors="ignore")
    prepared: list[Prepared] = pp.prepare_persons(frame.astype(object)).to_dict("records")
    return prepared


def rebuild_all(
    session: Session,
    chunks: Iterable[list[Record]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild the whole index from record chunks (see ``store.iter_record_chunks``)."""
    session.execute(delete(PersonMatchKey))
    session.execute(delete(PersonMatchRecord))
    total = done = 0
    for chunk in chunks:
        total += write_keys(session, prepare_chunk(chunk))
        done += len(chunk)
        if progress is not None:
            progress(done)
    return total
