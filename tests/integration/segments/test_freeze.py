"""Snapshot segments from a list of persons (the door other analyses use): merged ids become
their golden record, unknown ids are refused with nothing written, members follow later merges
and deletions, and an unmerge gives the snapshot back exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.contacts import service as contacts
from closedloop.contacts.schemas import PersonCreate
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.merge import merge_persons, unmerge
from closedloop.errors import Conflict, ValidationFailed
from closedloop.segments import SNAPSHOT, Segment, SegmentMember, freeze_members, get_segment


def _person(s: Session, name: str) -> int:
    return contacts.create_person(s, PersonCreate(given_name=name, family_name="Test")).id


def _members(s: Session, segment_id: int) -> list[int]:
    stmt = select(SegmentMember.person_id).where(SegmentMember.segment_id == segment_id)
    return sorted(s.scalars(stmt))


def test_freeze_members_stores_the_list_with_its_origin(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        a, b, c = (_person(s, n) for n in ("Ann", "Bob", "Cid"))
    origin = {"source": "propensity", "category": "running", "top": 2}
    with unit_of_work(factory) as s:
        seg = freeze_members(s, "  Runners  top 2 ", [b, a, b], origin, created_by="tester")
        seg_id = seg.id
    with factory() as s:
        seg = get_segment(s, seg_id)
        assert (seg.name, seg.kind, seg.origin, seg.frozen_count) == (
            "Runners top 2", SNAPSHOT, origin, 2,
        )  # fmt: skip
        assert seg.frozen_at is not None and seg.created_by == "tester"
        assert _members(s, seg_id) == sorted([a, b])
        assert c not in _members(s, seg_id)


def test_unknown_ids_are_refused_and_nothing_is_written(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        a = _person(s, "Ann")
    with pytest.raises(ValidationFailed) as err, unit_of_work(factory) as s:
        freeze_members(s, "Broken", [a, 999_999, a, 888_888], {"source": "test"})
    assert "999999" in err.value.detail and "888888" in err.value.detail
    assert [e["field"] for e in err.value.errors] == ["person_ids[1]", "person_ids[3]"]
    with factory() as s:
        assert s.scalars(select(Segment)).all() == []
        assert s.scalars(select(SegmentMember)).all() == []


def test_empty_list_and_taken_name(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        seg_id = freeze_members(s, "Nobody", [], {"source": "test"}).id
    with factory() as s:
        assert get_segment(s, seg_id).frozen_count == 0
    with pytest.raises(Conflict), unit_of_work(factory) as s:
        freeze_members(s, "Nobody", [], {"source": "again"})
    with pytest.raises(ValidationFailed), unit_of_work(factory) as s:
        freeze_members(s, "   ", [], {"source": "blank"})


def test_merged_id_is_stored_as_golden_record(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        golden, source = _person(s, "Jean"), _person(s, "Jean-Pierre")
    with unit_of_work(factory) as s:
        merge_persons(s, golden, source)
    with unit_of_work(factory) as s:
        seg_id = freeze_members(s, "Merged", [source, golden], {"source": "test"}).id
    with factory() as s:
        assert _members(s, seg_id) == [golden]
        assert get_segment(s, seg_id).frozen_count == 1


def test_members_follow_a_merge_and_come_back_on_unmerge(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        golden, source, other = _person(s, "Jean"), _person(s, "JP"), _person(s, "Marie")
    with unit_of_work(factory) as s:
        only_source = freeze_members(s, "Only source", [source, other], {"source": "t"}).id
        both = freeze_members(s, "Both", [golden, source], {"source": "t"}).id
    with unit_of_work(factory) as s:
        event_id = merge_persons(s, golden, source).id
    with factory() as s:
        assert _members(s, only_source) == sorted([golden, other])
        assert _members(s, both) == [golden]
    with unit_of_work(factory) as s:
        unmerge(s, event_id)
    with factory() as s:
        assert _members(s, only_source) == sorted([source, other])
        assert _members(s, both) == sorted([golden, source])


def test_deleted_member_leaves_the_snapshot(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        a, b = _person(s, "Ann"), _person(s, "Bob")
    with unit_of_work(factory) as s:
        seg_id = freeze_members(s, "Pair", [a, b], {"source": "t"}).id
    with unit_of_work(factory) as s:
        contacts.delete_person(s, a)
    with factory() as s:
        assert _members(s, seg_id) == [b]
        assert get_segment(s, seg_id).frozen_count == 2  # its size when frozen stays
