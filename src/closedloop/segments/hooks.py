"""Hook implementations of the segments domain: frozen members follow a merge.

When a source record is merged into its golden record, every snapshot that held the source
holds the golden record instead (once, if it held both). The merge event records which
snapshots held the source, and which of them the golden record joined by the merge, so the
unmerge puts both back exactly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from closedloop.hookspecs import hookimpl
from closedloop.segments.models import Segment, SegmentMember


def _segments_of(session: Session, person_id: int) -> set[int]:
    stmt = select(SegmentMember.segment_id).where(SegmentMember.person_id == person_id)
    return {int(s) for s in session.scalars(stmt)}


@hookimpl
def person_merged(
    session: Session, golden_id: int, source_id: int, event: Any
) -> dict[str, Any] | None:
    """Replace the source by the golden record in every snapshot that held it."""
    held = _segments_of(session, source_id)
    if not held:
        return None
    joined = sorted(held - _segments_of(session, golden_id))
    session.execute(delete(SegmentMember).where(SegmentMember.person_id == source_id))
    if joined:
        session.execute(
            insert(SegmentMember),
            [{"segment_id": s, "person_id": golden_id} for s in joined],
        )
    return {"segments": {"held": sorted(held), "joined": joined}}


@hookimpl
def person_unmerged(session: Session, golden_id: int, source_id: int, event: Any) -> None:
    """Give the snapshots their source record back; remove the golden record where the merge
    added it."""
    moved = (event.moved or {}).get("segments")
    if not moved:
        return
    if moved["joined"]:
        session.execute(
            delete(SegmentMember).where(
                SegmentMember.person_id == golden_id,
                SegmentMember.segment_id.in_(moved["joined"]),
            )
        )
    alive = set(session.scalars(select(Segment.id).where(Segment.id.in_(moved["held"]))))
    existing = set(
        session.scalars(
            select(SegmentMember.segment_id).where(
                SegmentMember.person_id == source_id,
                SegmentMember.segment_id.in_(moved["held"]),
            )
        )
    )
    rows = [
        {"segment_id": s, "person_id": source_id}
        for s in moved["held"]
        if s in alive and s not in existing
    ]
    if rows:
        session.execute(insert(SegmentMember), rows)
