"""Use cases of segments: save, freeze, read and delete them. Each takes a session and
leaves the commit to the caller."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.segments.models import Segment
from closedloop.segments.snapshots import golden_ids, store_members

DYNAMIC = "dynamic"
SNAPSHOT = "snapshot"
NAME_MAX = 200


def _check_name(session: Session, name: str, *, keep_id: int | None = None) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise ValidationFailed(
            "A segment needs a name.", errors=[{"field": "name", "message": "must not be empty"}]
        )
    if len(clean) > NAME_MAX:
        raise ValidationFailed(
            f"A segment name has at most {NAME_MAX} characters.",
            errors=[{"field": "name", "message": f"at most {NAME_MAX} characters"}],
        )
    taken = session.scalar(select(Segment.id).where(Segment.name == clean))
    if taken is not None and taken != keep_id:
        raise Conflict(f"A segment called {clean!r} exists already (segment {taken}).")
    return clean


def _flush(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request took the name in between
        raise Conflict(f"A segment called {name!r} exists already.") from exc


def freeze_members(
    session: Session,
    name: str,
    person_ids: Iterable[int],
    origin: dict[str, Any],
    *,
    description: str | None = None,
    created_by: str | None = None,
) -> Segment:
    """Create a snapshot segment ``name`` whose members are ``person_ids``.

    ``origin`` says where the list came from, as JSON (``{"source": "propensity", "model":
    …, "top": 5000}``); it is stored with the segment and shown with it. Ids of merged
    records are stored as their golden record, each person once; an id that names no person
    is refused (ValidationFailed naming it) and nothing is written.
    """
    clean = _check_name(session, name)
    members = golden_ids(session, person_ids)
    segment = Segment(
        name=clean,
        description=description,
        kind=SNAPSHOT,
        origin=dict(origin),
        frozen_at=utcnow(),
        frozen_count=len(members),
        created_by=created_by,
    )
    session.add(segment)
    _flush(session, clean)
    store_members(session, segment.id, members)
    return segment


def get_segment(session: Session, segment_id: int) -> Segment:
    """One segment; NotFound when it does not exist."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"Segment {segment_id} does not exist.")
    return segment


def list_segments(
    session: Session, *, limit: int = 100, offset: int = 0
) -> tuple[list[Segment], int]:
    """Segments by name, and how many there are."""
    total = session.scalar(select(func.count()).select_from(Segment)) or 0
    rows = session.scalars(select(Segment).order_by(Segment.name).limit(limit).offset(offset))
    return list(rows), int(total)


def _refers_to(doc: Any, segment_id: int) -> bool:
    if isinstance(doc, dict):
        if doc.get("segment") == segment_id and len(doc) == 1:
            return True
        return any(_refers_to(v, segment_id) for v in doc.values())
    if isinstance(doc, list):
        return any(_refers_to(v, segment_id) for v in doc)
    return False


def users_of(session: Session, segment_id: int) -> list[Segment]:
    """The dynamic segments whose rule names segment ``segment_id`` (``{"segment": id}``)."""
    dynamic = session.scalars(
        select(Segment).where(Segment.kind == DYNAMIC, Segment.id != segment_id)
    )
    return [s for s in dynamic if _refers_to(s.rules, segment_id)]


def delete_segment(session: Session, segment_id: int) -> None:
    """Delete a segment and its frozen members (snapshots taken from it stay). Refused
    (Conflict) while another segment's rule names it."""
    segment = get_segment(session, segment_id)
    users = users_of(session, segment_id)
    if users:
        names = ", ".join(f"{u.name} ({u.id})" for u in users[:5])
        raise Conflict(f"Segment {segment_id} is used by the rule of: {names}; change those first.")
    session.delete(segment)
    session.flush()


def create_segment(
    session: Session,
    name: str,
    rules: dict[str, Any],
    *,
    description: str | None = None,
    created_by: str | None = None,
) -> Segment:
    """Save a dynamic segment: ``rules`` (a JSON rule) is checked and compiled once, so a
    mistake or an unknown name (category, campaign…) is refused now, naming its rule path."""
    from closedloop.segments.evaluate import compile_sql

    clean = _check_name(session, name)
    compile_sql(session, rules)
    segment = Segment(
        name=clean, description=description, kind=DYNAMIC, rules=dict(rules),
        created_by=created_by,
    )  # fmt: skip
    session.add(segment)
    _flush(session, clean)
    return segment


def update_segment(
    session: Session,
    segment_id: int,
    *,
    name: str | None = None,
    rules: dict[str, Any] | None = None,
    description: str | None = None,
) -> Segment:
    """Rename a segment, change its description or (dynamic only) its rules."""
    from closedloop.segments.evaluate import compile_sql

    segment = get_segment(session, segment_id)
    if name is not None:
        segment.name = _check_name(session, name, keep_id=segment.id)
    if description is not None:
        segment.description = description or None
    if rules is not None:
        if segment.kind != DYNAMIC:
            raise ValidationFailed(
                "A snapshot keeps the members it froze; its rules cannot change.",
                errors=[{"field": "rules", "message": "a snapshot's rules cannot change"}],
            )
        compile_sql(session, rules, within=segment.id)
        segment.rules = dict(rules)
    _flush(session, segment.name)
    return segment


def snapshot_segment(
    session: Session,
    segment_id: int,
    *,
    name: str | None = None,
    created_by: str | None = None,
) -> Segment:
    """Freeze the members of a dynamic segment now into a new snapshot segment (named
    ``name``, by default "<segment> <date and time>"), which keeps the rule it came from."""
    from closedloop.segments.evaluate import rule_member_ids

    source = get_segment(session, segment_id)
    if source.kind != DYNAMIC:
        raise ValidationFailed(
            f"Segment {source.id} is a snapshot already.",
            errors=[{"field": "segment_id", "message": "not a dynamic segment"}],
        )
    now = utcnow()
    clean = _check_name(session, name or f"{source.name} {now:%Y-%m-%d %H:%M:%S}")
    members = rule_member_ids(session, source.rules or {"all": []}, today=now.date())
    snapshot = Segment(
        name=clean, description=source.description, kind=SNAPSHOT, rules=source.rules,
        source_segment_id=source.id, frozen_at=now, frozen_count=len(members),
        created_by=created_by,
    )  # fmt: skip
    session.add(snapshot)
    _flush(session, clean)
    store_members(session, snapshot.id, members)
    return snapshot


def segment_dict(segment: Segment) -> dict[str, Any]:
    """A segment as JSON (the API's and the CLI's form)."""
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rules": segment.rules,
        "origin": segment.origin,
        "source_segment_id": segment.source_segment_id,
        "frozen_at": segment.frozen_at,
        "frozen_count": segment.frozen_count,
        "created_by": segment.created_by,
        "created_at": segment.created_at,
    }
