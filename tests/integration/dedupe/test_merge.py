"""Merge and unmerge (issue 4 item 3): survivorship, every domain's rows moved and given
back, the consent rule, not-a-duplicate remembered, running campaigns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns.models import Campaign
from closedloop.consent.hooks import merged_state
from closedloop.contacts.models import Person
from closedloop.db.uow import unit_of_work
from closedloop.dedupe import candidates as cand
from closedloop.dedupe.merge import merge_persons, unmerge
from closedloop.dedupe.models import DuplicateCandidate, MergeEvent
from closedloop.dedupe.online import find_candidates
from closedloop.errors import Refused
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

from .conftest import dump_all, grant, person

Sql = Callable[[str], list[tuple[Any, ...]]]


def test_merge_then_unmerge_restores_every_row_exactly(
    engine: Engine, factory: sessionmaker[Session], pair: dict[str, int], sql: Sql
) -> None:
    golden, source = pair["golden"], pair["source"]
    before = dump_all(engine)
    with unit_of_work(factory) as s:
        event = merge_persons(s, golden, source, merged_by="tester")
        event_id = event.id
    assert sql(f"SELECT merged_into_id FROM persons WHERE id = {source}") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM orders") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM communications") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM responses") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM survey_answers") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM consent_events") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM suppressions") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM tasks") == [(golden,)]
    assert sql("SELECT DISTINCT person_id FROM appointments") == [(golden,)]
    # one membership per campaign: the golden record's own kept, the other moved
    members = sql("SELECT campaign_id, person_id FROM campaign_members ORDER BY campaign_id")
    assert [m[1] for m in members] == [golden, golden]
    # survivorship: ERP is not ranked, so names: most complete; gender filled from the source
    name = sql(f"SELECT given_name, gender, birth_date, lifecycle_status FROM persons "
               f"WHERE id = {golden}")  # fmt: skip
    assert name[0][0] == "Jean-Pierre" and name[0][1] == "male"
    assert str(name[0][2]) == "1971-03-14" and name[0][3] == "customer"
    # contact points: the same email once, the other one added; one primary per kind
    emails = sql(f"SELECT address_key, is_primary FROM emails WHERE person_id = {golden} "
                 "ORDER BY id")  # fmt: skip
    assert [e[0] for e in emails] == ["jean.dupont@example.com", "jp@example.org"]
    assert sum(bool(e[1]) for e in emails) == 1
    # identifiers: the source's loyalty card moves over; the shared national id stays once
    idents = sql(f"SELECT scheme, value FROM identifiers WHERE person_id = {golden} "
                 "ORDER BY scheme")  # fmt: skip
    assert idents == [("loyalty", "L-77"), ("national_id", "171037512")]
    assert sql(f"SELECT count(*) FROM identifiers WHERE person_id = {source}") == [(0,)]
    # relationships: the self-reference and the duplicate household membership are dropped
    rels = sql("SELECT person_id, kind, related_person_id FROM relationships ORDER BY id")
    assert (golden, "referred_by", golden) not in rels
    assert (pair["other"], "family", golden) in rels
    assert sql("SELECT count(*) FROM relationships WHERE kind = 'household_member'") == [(1,)]
    # consent never upgraded: golden withdrew in 2025, the source's grant is older
    states = sql(f"SELECT channel, purpose, state FROM consent_current WHERE person_id = {golden} "
                 "ORDER BY channel")  # fmt: skip
    assert states == [("email", "marketing", "withdrawn"), ("sms", "newsletter", "granted")]
    assert sql(f"SELECT count(*) FROM consent_current WHERE person_id = {source}") == [(0,)]

    with unit_of_work(factory) as s:
        unmerge(s, event_id, undone_by="tester")
    assert dump_all(engine) == before
    with unit_of_work(factory) as s:
        assert s.get(MergeEvent, event_id).undone_at is not None  # type: ignore[union-attr]


def test_unmerge_refuses_when_golden_changed_since_unless_forced(
    factory: sessionmaker[Session], pair: dict[str, int]
) -> None:
    with unit_of_work(factory) as s:
        first = merge_persons(s, pair["golden"], pair["source"]).id
        second = merge_persons(s, pair["golden"], pair["other"]).id
    with unit_of_work(factory) as s, pytest.raises(Refused, match=f"undo merge {second} first"):
        unmerge(s, first)
    with unit_of_work(factory) as s:
        unmerge(s, second)
        unmerge(s, first)
        assert s.get(Person, pair["source"]).merged_into_id is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("golden_state", "source_state", "method", "expected"),
    [
        # golden withdrew in 2025; the source's older grant never wins
        (("withdrawn", "2025-01-10"), ("granted", "2024-06-01"), "web_form", "withdrawn"),
        # a newer explicit grant (the person's own act, with proof) wins
        (("withdrawn", "2025-01-10"), ("granted", "2025-06-01"), "web_form", "granted"),
        # a newer grant that was only imported does not
        (("withdrawn", "2025-01-10"), ("granted", "2025-06-01"), "import", "withdrawn"),
        # the source's newer withdrawal wins over the golden record's grant
        (("granted", "2024-01-10"), ("withdrawn", "2025-06-01"), "web_form", "withdrawn"),
    ],
)
def test_consent_is_never_upgraded_by_a_merge(
    factory: sessionmaker[Session],
    sql: Sql,
    golden_state: tuple[str, str],
    source_state: tuple[str, str],
    method: str,
    expected: str,
) -> None:
    with unit_of_work(factory) as s:
        golden = person(s, given_name="Ana", family_name="Pop")
        source = person(s, given_name="Ana", family_name="Pop")
        for pid, (state, at) in ((golden, golden_state), (source, source_state)):
            how = ConsentMethod(method) if pid == source else ConsentMethod.WEB_FORM
            grant(s, pid, Channel.EMAIL, Purpose.MARKETING, ConsentState(state), at, how)
        merge_persons(s, golden, source)
    assert sql(f"SELECT state FROM consent_current WHERE person_id = {golden}") == [(expected,)]


def test_merged_state_rule_without_the_other_side() -> None:
    doc = {"state": "granted", "since": datetime(2024, 1, 1, tzinfo=UTC).isoformat(),
           "event_id": 1}  # fmt: skip
    assert merged_state(doc, None, {}) is doc
    assert merged_state(None, doc, {}) is doc


def test_not_a_duplicate_is_remembered(factory: sessionmaker[Session], sql: Sql) -> None:
    with unit_of_work(factory) as s:
        a = person(s, given_name="Paul", family_name="Martin", birth_date="1980-02-02",
                   emails=[{"address": "paul.martin@example.com"}])  # fmt: skip
        b = person(s, given_name="Paul", family_name="Martin", birth_date="1980-02-02",
                   emails=[{"address": "paul.martin@example.com"}])  # fmt: skip
    with unit_of_work(factory) as s:
        pending = s.scalars(select(DuplicateCandidate)).all()
        assert [(p.person_l_id, p.person_r_id, p.status) for p in pending] == [(a, b, "pending")]
        cand.decide(s, pending[0].id, "not_duplicate", decided_by="reviewer")
    with unit_of_work(factory) as s:
        assert find_candidates(s, b) == []
        with pytest.raises(Refused, match="not the same person"):
            merge_persons(s, a, b)
        # saving the person again (the online check) does not put the pair back in the queue
        from closedloop.contacts import service as contacts_service
        from closedloop.contacts.schemas import PersonUpdate

        contacts_service.update_person(s, b, PersonUpdate(version=1, language="fr"))
    assert sql("SELECT status FROM duplicate_candidates") == [("not_duplicate",)]


def test_accepting_a_pair_merges_it_and_rejecting_leaves_it_apart(
    factory: sessionmaker[Session], sql: Sql
) -> None:
    with unit_of_work(factory) as s:
        a = person(s, given_name="Lena", family_name="Weber", birth_date="1990-05-05",
                   emails=[{"address": "lena@example.de"}], source_system="webshop")  # fmt: skip
        b = person(s, given_name="Lena", family_name="Webber", birth_date="1990-05-05",
                   emails=[{"address": "lena@example.de"}], source_system="erp")  # fmt: skip
        c = person(s, given_name="Lena", family_name="Weber", birth_date="1990-05-05",
                   phones=[{"number": "+49 30 1234567"}])  # fmt: skip
    with unit_of_work(factory) as s:
        rows = {(r.person_l_id, r.person_r_id): r.id for r in s.scalars(select(DuplicateCandidate))}
        _, event = cand.decide(s, rows[(a, b)], "accept", decided_by="reviewer")
        assert event is not None and event.golden_id == a  # equal trust: the older record
        cand.decide(s, rows[(a, c)], "reject", decided_by="reviewer")
    assert sql(f"SELECT merged_into_id FROM persons WHERE id IN ({b}, {c}) ORDER BY id") == [
        (a,),
        (None,),
    ]


def test_a_person_in_a_running_campaign_is_not_merged(
    factory: sessionmaker[Session], pair: dict[str, int], sql: Sql
) -> None:
    with unit_of_work(factory) as s:
        s.get(Campaign, pair["campaign"]).status = "running"  # type: ignore[union-attr]
    with unit_of_work(factory) as s, pytest.raises(Refused, match="running campaign SPRING"):
        merge_persons(s, pair["golden"], pair["source"])
    assert sql(f"SELECT merged_into_id FROM persons WHERE id = {pair['source']}") == [(None,)]
