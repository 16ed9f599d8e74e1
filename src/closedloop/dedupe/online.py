"""The online duplicate check: a new or changed person against the whole base, in
milliseconds. Keys are looked up in ``person_match_keys`` (one indexed query), the few
candidates read by primary key and scored with the trained model's m and u."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from closedloop.contacts.models import Person
from closedloop.contacts.normalize import normalize_phone
from closedloop.contacts.schemas import PersonCreate
from closedloop.dedupe.engine.conflict import identity_conflict
from closedloop.dedupe.keys import Prepared, keys_of, prepare_one, read_profiles
from closedloop.dedupe.model_store import online_model
from closedloop.dedupe.models import DuplicateCandidate, PersonMatchKey
from closedloop.dedupe.online_model import Step, probability
from closedloop.dedupe.settings import get_dedupe_settings
from closedloop.dedupe.store import Record, count_golden, records_for
from closedloop.settings import get_settings

#: Most stored records scored per check.
MAX_SCORED = 40


@dataclass
class Candidate:
    """A stored person who may be the same as the one checked, with the score's reasons."""

    person_id: int
    match_weight: float
    match_probability: float
    likely: bool
    steps: list[Step] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    record: Record = field(default_factory=dict)
    #: the stored pair in the review queue, once :func:`.candidates.record_online` ran
    pair_id: int | None = None
    pair_status: str | None = None

    @property
    def display_name(self) -> str:
        """The candidate's name as a person would read it (else its id)."""
        parts = [p for p in (self.record.get("given_name"), self.record.get("family_name")) if p]
        return " ".join(str(p) for p in parts) if parts else f"#{self.person_id}"

    def explanation(self) -> list[dict[str, Any]]:
        """The waterfall as JSON: comparison, level, bits."""
        return [
            {"comparison": s.comparison, "level": s.level, "weight": s.weight} for s in self.steps
        ]


def _primary(items: list[Any]) -> Any:
    return next((i for i in items if i.is_primary), items[0] if items else None)


def record_of(data: PersonCreate) -> Record:
    """The engine record of a person not stored yet (primary contact points)."""
    email = _primary(data.emails)
    phone = _primary(data.phones)
    address = _primary(data.addresses)
    number = None
    if phone is not None:
        country = phone.country or (address.country if address else None)
        try:
            number = normalize_phone(phone.number, country or get_settings().default_country)
        except ValueError:
            number = phone.number
    return {
        "record_id": "new",
        "given_name": data.given_name,
        "family_name": data.family_name,
        "birth_date": data.birth_date.isoformat() if data.birth_date else None,
        "email": email.address if email else None,
        "phone": number,
        "street": address.line1 if address else None,
        "address_line2": address.line2 if address else None,
        "postal_code": address.postal_code if address else None,
        "locality": address.locality if address else None,
        "region": address.region if address else None,
        "country": address.country if address else None,
    }


_LOOKUPS: dict[int, CompoundSelect[Any]] = {}


def _lookup_statement(n: int) -> CompoundSelect[Any]:
    """One statement for ``n`` keys: a bounded indexed read per key, with bound parameters
    ``k<i>``, ``v<i>`` and ``cap`` (built once per ``n``; SQLAlchemy then reuses its
    compiled form)."""
    stmt = _LOOKUPS.get(n)
    if stmt is None:
        parts = [
            select(PersonMatchKey.person_id, literal(i).label("k"))
            .where(
                PersonMatchKey.key_kind == bindparam(f"k{i}"),
                PersonMatchKey.key_value == bindparam(f"v{i}"),
            )
            .limit(bindparam("cap"))
            .subquery(f"t{i}")
            for i in range(n)
        ]
        stmt = _LOOKUPS[n] = union_all(*(select(p.c.person_id, p.c.k) for p in parts))
    return stmt


def lookup(session: Session, prepared: Prepared, cap: int) -> dict[int, list[str]]:
    """Person id → the keys it shares with ``prepared``; keys shared by more than ``cap``
    persons are skipped as too common (one query: a bounded read per key)."""
    keys = keys_of(prepared)
    if not keys:
        return {}
    params: dict[str, Any] = {"cap": cap + 1}
    for i, (kind, value) in enumerate(keys):
        params[f"k{i}"], params[f"v{i}"] = kind, value
    hits: dict[int, list[int]] = defaultdict(list)
    for person_id, index in session.execute(_lookup_statement(len(keys)), params):
        hits[int(index)].append(int(person_id))
    found: dict[int, list[str]] = defaultdict(list)
    for index, ids in hits.items():
        if len(ids) <= cap:
            kind = keys[index][0]
            for pid in ids:
                found[pid].append(kind)
    return dict(found)


def _decided_apart(session: Session, person_id: int, others: list[int]) -> set[int]:
    """Of ``others``, those someone marked as not the same person as ``person_id``."""
    if not others:
        return set()
    rows = session.execute(
        select(DuplicateCandidate.person_l_id, DuplicateCandidate.person_r_id).where(
            DuplicateCandidate.status == "not_duplicate",
            or_(
                and_(
                    DuplicateCandidate.person_l_id == person_id,
                    DuplicateCandidate.person_r_id.in_(others),
                ),
                and_(
                    DuplicateCandidate.person_r_id == person_id,
                    DuplicateCandidate.person_l_id.in_(others),
                ),
            ),
        )
    ).all()
    return {r if l_ == person_id else l_ for l_, r in rows}


def find_candidates(
    session: Session,
    person: int | PersonCreate,
    *,
    threshold: float | None = None,
    limit: int | None = None,
) -> list[Candidate]:
    """Stored persons who may be ``person`` (an id, or a person not stored yet), best first.

    Only candidates at or above ``threshold`` (default: the review threshold) come back;
    ``likely`` marks those at or above the automatic-merge threshold. Pairs marked "not a
    duplicate" never come back.
    """
    settings = get_dedupe_settings()
    threshold = settings.review_threshold if threshold is None else threshold
    if isinstance(person, int):
        own = records_for(session, [person])
        if not own:
            return []
        record, self_id = own[0], person
    else:
        record, self_id = record_of(person), None
    prepared = prepare_one(record)
    found = lookup(session, prepared, settings.online_block_cap)
    found.pop(self_id, None) if self_id is not None else None
    if not found:
        return []
    ids = list(found)
    if self_id is not None:
        for pid in _decided_apart(session, self_id, ids):
            found.pop(pid, None)
    model, _ = online_model(session, _golden_hint(session))
    # The records sharing most keys first; a bounded number is scored (the others share a
    # single common key, such as a birth date and a frequent given name).
    best = sorted(found, key=lambda pid: (-len(found[pid]), pid))[:MAX_SCORED]
    profiles = read_profiles(session, best)
    scored: list[tuple[int, float]] = []
    for pid in best:
        theirs = profiles.get(pid)
        if theirs is None or identity_conflict(prepared, theirs):
            continue  # merged meanwhile; or different people sharing contacts (a household)
        weight = model.weight(prepared, theirs)
        if probability(weight) >= threshold:
            scored.append((pid, weight))
    if not scored:
        return []
    out: list[Candidate] = []
    records = _display_records(session, [pid for pid, _ in scored])
    for pid, weight in scored:
        if pid in records:
            steps = model.explain(prepared, profiles[pid])
            p = probability(weight)
            likely = p >= settings.threshold
            out.append(Candidate(pid, weight, p, likely, steps, found[pid], records[pid]))
    out.sort(key=lambda c: (-c.match_weight, c.person_id))
    return out[: limit or settings.online_limit]


@lru_cache(maxsize=1)
def _names_statement() -> Select[int, str | None, str | None, str | None, str | None]:
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    return select(
        Person.id, Person.given_name, Person.family_name, Person.source_system, Person.external_id
    ).where(Person.id.in_(ids), Person.merged_into_id.is_(None))


def _display_records(session: Session, person_ids: list[int]) -> dict[int, Record]:
    """Names and source ids of golden candidates (what a caller shows), by id."""
    rows = session.execute(_names_statement(), {"ids": person_ids}).all()
    return {
        int(pid): {
            "record_id": str(pid),
            "given_name": given,
            "family_name": family,
            "source_system": source,
            "external_id": external,
        }
        for pid, given, family, source, external in rows
    }


#: ``session.info`` key: person id → the candidates ``person_saved`` found for it.
SESSION_KEY = "duplicate_candidates"


def saved_candidates(session: Session, person_id: int) -> list[Candidate]:
    """The candidates the online check found when ``person_id`` was last saved in this
    session (what a create or update shows as a warning); [] when none were found."""
    cache: dict[int, list[Candidate]] = session.info.get(SESSION_KEY, {})
    return list(cache.get(person_id, []))


_GOLDEN_HINT: dict[int, int] = {}


def _golden_hint(session: Session) -> int:
    """The base size for the untrained model's prior, counted once per engine."""
    key = id(session.get_bind())
    if key not in _GOLDEN_HINT:
        _GOLDEN_HINT[key] = max(count_golden(session), 1_000)
    return _GOLDEN_HINT[key]
