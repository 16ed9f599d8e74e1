"""Merge two persons into one golden record, and undo it exactly.

A merge keeps both rows: the source stays, linked by ``persons.merged_into_id``. The golden
record takes each field by survivorship (:mod:`.survivorship`), the source's contact points,
identifiers, attributes and relationships (duplicates dropped), and every domain moves its
own rows through the ``person_merged`` hook (orders, consents, communications, responses…).
The merge event stores full rows of everything it changed and what each domain moved, so
:func:`unmerge` puts back exactly the state before. Every function leaves the commit to the
caller.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.orm import Session

from closedloop.contacts.models import (
    Address,
    AttributeValue,
    Email,
    Identifier,
    Person,
    Phone,
    Relationship,
)
from closedloop.db.base import utcnow
from closedloop.dedupe import snapshot
from closedloop.dedupe.keys import delete_keys, refresh_keys
from closedloop.dedupe.models import (
    DuplicateCandidate,
    MergeEvent,
    PersonMatchKey,
    PersonMatchRecord,
)
from closedloop.dedupe.survivorship import FIELDS, Policy, survive
from closedloop.errors import Conflict, NotFound, Refused
from closedloop.hookspecs import pm

#: Tables whose rows of the two persons the merge event keeps in full.
_OWNED: tuple[type[Any], ...] = (Email, Phone, Address, Identifier, AttributeValue)
_PERSON_COLUMNS_KEPT = ("id", "version", "updated_at")


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _person_rows(session: Session, ids: tuple[int, int]) -> list[dict[str, Any]]:
    return snapshot.dump(session, _table(Person), Person.id.in_(ids))


def _rel_where(ids: tuple[int, int]) -> Any:
    return or_(Relationship.person_id.in_(ids), Relationship.related_person_id.in_(ids))


def take_snapshot(session: Session, golden_id: int, source_id: int) -> dict[str, Any]:
    """Full rows of both persons and of everything of theirs the merge may change."""
    ids = (golden_id, source_id)
    doc: dict[str, Any] = {"persons": _person_rows(session, ids)}
    for model in _OWNED:
        doc[model.__tablename__] = snapshot.dump(session, _table(model), model.person_id.in_(ids))
    doc["relationships"] = snapshot.dump(session, _table(Relationship), _rel_where(ids))
    doc["person_match_keys"] = snapshot.dump(
        session, _table(PersonMatchKey), PersonMatchKey.person_id.in_(ids)
    )
    doc["person_match_records"] = snapshot.dump(
        session, _table(PersonMatchRecord), PersonMatchRecord.person_id.in_(ids)
    )
    return doc


def pair_key(a: int, b: int) -> tuple[int, int]:
    """A pair of person ids, smaller first (the order ``duplicate_candidates`` stores)."""
    return (a, b) if a < b else (b, a)


def not_duplicate(session: Session, a: int, b: int) -> bool:
    """True when someone decided that these two persons are not the same."""
    left, right = pair_key(a, b)
    status = session.scalar(
        select(DuplicateCandidate.status).where(
            DuplicateCandidate.person_l_id == left, DuplicateCandidate.person_r_id == right
        )
    )
    return status == "not_duplicate"


def _key(*parts: Any) -> tuple[str, ...]:
    return tuple(str(p or "").strip().casefold() for p in parts)


def _move_contact_points(session: Session, golden_id: int, source_id: int) -> None:
    """Source points golden lacks move over (not primary where golden has one); the rest go."""
    specs: tuple[tuple[type[Any], Any], ...] = (
        (Email, lambda r: _key(r.address_key)),
        (Phone, lambda r: _key(r.e164)),
        (Address, lambda r: _key(r.line1, r.line2, r.postal_code, r.locality, r.country)),
    )
    for model, keyfn in specs:
        golden_rows = list(session.scalars(select(model).where(model.person_id == golden_id)))
        have = {keyfn(r) for r in golden_rows}
        golden_has_primary = any(r.is_primary for r in golden_rows)
        drop: list[int] = []
        move: list[int] = []
        demote: list[int] = []
        for row in session.scalars(select(model).where(model.person_id == source_id)):
            if keyfn(row) in have:
                drop.append(row.id)
                continue
            have.add(keyfn(row))
            move.append(row.id)
            if row.is_primary and golden_has_primary:
                demote.append(row.id)
        snapshot.delete_rows(session, _table(model), drop)
        if move:
            session.execute(update(model).where(model.id.in_(move)).values(person_id=golden_id))
        if demote:
            session.execute(update(model).where(model.id.in_(demote)).values(is_primary=False))


def _move_identity_rows(session: Session, golden_id: int, source_id: int) -> None:
    # An identifier both records hold (the shared national id that linked them) stays once;
    # the snapshot keeps the source's row for the unmerge.
    held = {
        (scheme, value)
        for scheme, value in session.execute(
            select(Identifier.scheme, Identifier.value).where(Identifier.person_id == golden_id)
        )
    }
    same = [
        row_id
        for row_id, scheme, value in session.execute(
            select(Identifier.id, Identifier.scheme, Identifier.value).where(
                Identifier.person_id == source_id
            )
        )
        if (scheme, value) in held
    ]
    snapshot.delete_rows(session, _table(Identifier), same)
    session.execute(
        update(Identifier).where(Identifier.person_id == source_id).values(person_id=golden_id)
    )
    golden_defs = set(
        session.scalars(
            select(AttributeValue.definition_id).where(AttributeValue.person_id == golden_id)
        )
    )
    if golden_defs:
        session.execute(
            delete(AttributeValue).where(
                AttributeValue.person_id == source_id,
                AttributeValue.definition_id.in_(golden_defs),
            )
        )
    session.execute(
        update(AttributeValue)
        .where(AttributeValue.person_id == source_id)
        .values(person_id=golden_id)
    )


def _rel_signature(r: Relationship) -> tuple[Any, ...]:
    return (r.person_id, r.kind, r.related_person_id, r.organisation_id, r.household_id)


def _move_relationships(session: Session, golden_id: int, source_id: int) -> None:
    rows = list(session.scalars(select(Relationship).where(_rel_where((golden_id, source_id)))))
    kept = {_rel_signature(r) for r in rows if source_id not in (r.person_id, r.related_person_id)}
    drop: list[int] = []
    for r in rows:
        if source_id not in (r.person_id, r.related_person_id):
            continue
        person = golden_id if r.person_id == source_id else r.person_id
        related = golden_id if r.related_person_id == source_id else r.related_person_id
        sig = (person, r.kind, related, r.organisation_id, r.household_id)
        if person == related or sig in kept:
            drop.append(r.id)
            continue
        kept.add(sig)
        session.execute(
            update(Relationship)
            .where(Relationship.id == r.id)
            .values(person_id=person, related_person_id=related)
        )
    snapshot.delete_rows(session, _table(Relationship), drop)


def merge_persons(
    session: Session,
    golden_id: int,
    source_id: int,
    *,
    reason: str = "manual",
    merged_by: str | None = None,
    candidate_id: int | None = None,
    policy: Policy | None = None,
    refresh_index: bool = True,
) -> MergeEvent:
    """Merge ``source_id`` into ``golden_id`` and return the merge event.

    Refused when the two are one record, either is already merged, someone decided they are
    not the same person, or a domain objects (a running campaign: see ``campaigns.hooks``).
    ``refresh_index=False`` leaves the golden record's online keys to the caller (a batch
    refreshes many at once with :func:`closedloop.dedupe.keys.refresh_keys`); they must be
    fresh before the golden record's next merge, whose event keeps them for the unmerge.
    """
    if golden_id == source_id:
        raise Refused(f"Person {golden_id} cannot be merged with itself.")
    golden = session.get(Person, golden_id)
    source = session.get(Person, source_id)
    for pid, person in ((golden_id, golden), (source_id, source)):
        if person is None:
            raise NotFound(f"Person {pid} does not exist.")
        if person.merged_into_id is not None:
            raise Refused(
                f"Person {pid} was already merged into person {person.merged_into_id}; "
                "merge with that record instead."
            )
    assert golden is not None and source is not None
    if not_duplicate(session, golden_id, source_id):
        raise Refused(
            f"Persons {golden_id} and {source_id} were marked as not the same person; "
            "they are never merged."
        )
    reasons = [
        r
        for r in pm.hook.person_merge_blockers(
            session=session, golden_id=golden_id, source_id=source_id
        )
        if r
    ]
    if reasons:
        raise Refused(
            f"Persons {golden_id} and {source_id} cannot be merged now: " + "; ".join(reasons) + "."
        )
    policy = policy or Policy.from_settings()
    before = take_snapshot(session, golden_id, source_id)
    event = MergeEvent(
        golden_id=golden_id,
        source_id=source_id,
        candidate_id=candidate_id,
        reason=reason,
        merged_by=merged_by,
        before=before,
        after={},
        moved={},
        golden_version=golden.version,
    )
    session.add(event)
    session.flush()

    chosen = survive(policy, golden, source)
    for name, (value, _origin) in chosen.items():
        setattr(golden, name, value)
    golden.given_key, golden.family_key = _keys_of(golden, source, chosen)
    golden.updated_at = utcnow()
    source.merged_into_id = golden_id
    session.flush()

    _move_contact_points(session, golden_id, source_id)
    _move_identity_rows(session, golden_id, source_id)
    _move_relationships(session, golden_id, source_id)
    moved: dict[str, Any] = {}
    for record in pm.hook.person_merged(
        session=session, golden_id=golden_id, source_id=source_id, event=event
    ):
        if record:
            moved.update(record)
    session.flush()
    session.expire_all()
    delete_keys(session, [source_id])
    if refresh_index:
        refresh_keys(session, [golden_id])
    golden = session.get(Person, golden_id)
    assert golden is not None
    event.moved = moved
    event.golden_version = golden.version
    event.after = {
        "person": _person_rows(session, (golden_id, golden_id))[0],
        "points": _points(session, golden_id),
        "origins": {name: origin for name, (_v, origin) in chosen.items()},
    }
    session.flush()
    return event


def _points(session: Session, person_id: int) -> list[list[Any]]:
    """The golden record's contact points and identifiers as (table, id) pairs."""
    out: list[list[Any]] = []
    for model in _OWNED:
        ids = session.scalars(select(model.id).where(model.person_id == person_id))
        out.extend([model.__tablename__, int(i)] for i in ids)
    return sorted(out)


def changed_since(session: Session, event: MergeEvent) -> str | None:
    """Why the golden record is no longer as the merge left it (None when it is)."""
    later = session.scalar(
        select(MergeEvent.id).where(
            MergeEvent.golden_id == event.golden_id,
            MergeEvent.id > event.id,
            MergeEvent.undone_at.is_(None),
        )
    )
    if later is not None:
        return f"it was merged again since: undo merge {later} first"
    now = _person_rows(session, (event.golden_id, event.golden_id))
    then = event.after.get("person", {})
    moving = set(_PERSON_COLUMNS_KEPT)
    if not now or any(now[0].get(k) != v for k, v in then.items() if k not in moving):
        return "it was edited since"
    if _points(session, event.golden_id) != event.after.get("points"):
        return "its contact points were changed since"
    return None


def _keys_of(
    golden: Person, source: Person, chosen: dict[str, tuple[Any, int]]
) -> tuple[str | None, str | None]:
    """The search keys go with the name they were made from."""
    by_id = {golden.id: golden, source.id: source}
    given = by_id[chosen["given_name"][1]].given_key if chosen["given_name"][0] else None
    family = by_id[chosen["family_name"][1]].family_key if chosen["family_name"][0] else None
    return given, family


def unmerge(
    session: Session, event_id: int, *, undone_by: str | None = None, force: bool = False
) -> MergeEvent:
    """Undo a merge: both persons, their contact points and every domain's rows return to
    their state before the merge. Refused when the golden record changed since (a later
    merge or an edit would be lost) unless ``force`` is given."""
    event = session.get(MergeEvent, event_id)
    if event is None:
        raise NotFound(f"Merge {event_id} does not exist.")
    if event.undone_at is not None:
        raise Conflict(f"Merge {event_id} was already undone.")
    golden = session.get(Person, event.golden_id)
    source = session.get(Person, event.source_id)
    if golden is None or source is None:
        raise Refused(f"A person of merge {event_id} was deleted since; it cannot be undone.")
    if source.merged_into_id != golden.id:
        raise Refused(f"Person {source.id} is no longer merged into person {golden.id}.")
    why = changed_since(session, event)
    if why is not None and not force:
        raise Refused(
            f"Merge {event_id} cannot be undone as it is: person {golden.id} changed after it "
            f"({why}). Undoing it would lose those changes; force the unmerge to do it anyway."
        )
    pm.hook.person_unmerged(session=session, golden_id=golden.id, source_id=source.id, event=event)
    session.flush()
    before = event.before
    ids = (golden.id, source.id)
    session.execute(delete(PersonMatchKey).where(PersonMatchKey.person_id.in_(ids)))
    restored: tuple[type[Any], ...] = (*_OWNED, Relationship)
    for model in restored:
        snapshot.restore(session, _table(model), before.get(model.__tablename__, []))
    snapshot.restore(session, _table(PersonMatchKey), before.get("person_match_keys", []))
    session.execute(delete(PersonMatchRecord).where(PersonMatchRecord.person_id.in_(ids)))
    if "person_match_records" in before:
        snapshot.restore(session, _table(PersonMatchRecord), before["person_match_records"])
    session.expire_all()
    for doc in before["persons"]:
        person = session.get(Person, doc["id"])
        assert person is not None
        for name, value in doc.items():
            if name not in _PERSON_COLUMNS_KEPT:
                setattr(person, name, snapshot.from_json(_table(Person), name, value))
        person.updated_at = utcnow()
    event.undone_at = utcnow()
    event.undone_by = undone_by
    if event.candidate_id is not None:
        candidate = session.get(DuplicateCandidate, event.candidate_id)
        if candidate is not None:
            candidate.status = "rejected"
            candidate.note = f"merge {event.id} undone"
            candidate.decided_by = undone_by
            candidate.decided_at = utcnow()
    session.flush()
    return event


def merges_of(session: Session, person_id: int) -> list[MergeEvent]:
    """Merge events where the person was the golden record or the source, newest first."""
    stmt = (
        select(MergeEvent)
        .where(or_(MergeEvent.golden_id == person_id, MergeEvent.source_id == person_id))
        .order_by(MergeEvent.id.desc())
    )
    return list(session.scalars(stmt))


__all__ = [
    "FIELDS",
    "merge_persons",
    "merges_of",
    "not_duplicate",
    "pair_key",
    "take_snapshot",
    "unmerge",
]
