"""Dynamic rules on a small base: person fields, ages, latest scores, consent, orders in a
window, member_ids of dynamic and snapshot segments; every answer checked by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.segments import count, freeze_members, member_ids, rule_member_ids

from .world import TODAY, category, consent, order, person, product, score, score_run


@pytest.fixture()
def base(factory: sessionmaker[Session]) -> dict[str, int]:
    with unit_of_work(factory) as s:
        ann = person(s, given_name="Ann", gender="f", birth_date=date(1990, 6, 15))
        bob = person(s, given_name="Bob", gender="m", birth_date=date(1990, 6, 16))
        cid = person(s, given_name="Cid", lifecycle_status="customer")
        dan = person(s, given_name="Dan", gender="m")
        old = score_run(s, as_of=date(2026, 1, 1))
        new = score_run(s)
        score(s, old, ann, tier="C")
        score(s, old, bob, tier="A")
        score(s, new, ann, tier="A", clv=150)
        score(s, new, bob, tier="B", clv=99.5)
        consent(s, ann)
        consent(s, bob, state="withdrawn")
        consent(s, cid, channel="sms")
        sport = category(s, "sport")
        running = category(s, "running", parent=sport)
        books = category(s, "books")
        shoe = product(s, "SHOE-1", running)
        novel = product(s, "NOVEL-1", books)
        order(s, ann, date(2026, 5, 1), [(shoe, "80.00")])
        order(s, ann, date(2026, 3, 1), [(shoe, "60.00"), (novel, "12.00")])
        order(s, ann, date(2025, 1, 1), [(shoe, "70.00")])
        order(s, bob, date(2026, 6, 1), [(shoe, "90.00")])
        order(s, bob, date(2026, 6, 2), [(shoe, "90.00")], supplier="Rival")
        order(s, cid, date(2026, 6, 3), [(novel, "15.00")], status="cancelled")
        order(s, dan, date(2020, 1, 1), [(novel, "20.00")])
        ids = {"ann": ann, "bob": bob, "cid": cid, "dan": dan}
    return ids


def _names(base: dict[str, int], ids: list[int]) -> list[str]:
    by_id = {v: k for k, v in base.items()}
    return [by_id[i] for i in ids]


def _match(s: Session, base: dict[str, int], rules: dict) -> list[str]:
    ids = rule_member_ids(s, rules, today=TODAY)
    assert count(s, rules, today=TODAY) == len(ids)
    return _names(base, ids)


def test_person_fields_and_age(session: Session, base: dict[str, int]) -> None:
    assert _match(session, base, {"field": "gender", "op": "eq", "value": "m"}) == ["bob", "dan"]
    assert _match(session, base, {"not": {"field": "gender", "value": "m"}}) == ["ann", "cid"]
    assert _match(session, base, {"field": "gender", "op": "is_null"}) == ["cid"]
    # Ann turns 36 today, Bob tomorrow.
    assert _match(session, base, {"field": "age", "op": "gte", "value": 36}) == ["ann"]
    assert _match(session, base, {"field": "age", "op": "eq", "value": 35}) == ["bob"]
    assert _match(
        session, base, {"field": "lifecycle_status", "op": "in", "value": ["customer", "lapsed"]}
    ) == ["cid"]
    assert _match(session, base, {"field": "given_name", "op": "starts_with", "value": "B"}) == [
        "bob"
    ]
    assert _match(session, base, {"all": []}) == ["ann", "bob", "cid", "dan"]
    assert _match(session, base, {"any": []}) == []


def test_latest_scores_only(session: Session, base: dict[str, int]) -> None:
    assert _match(session, base, {"field": "tier", "value": "A"}) == ["ann"]
    assert _match(session, base, {"field": "clv", "op": "gte", "value": 99.5}) == ["ann", "bob"]
    assert _match(session, base, {"field": "clv", "op": "gt", "value": 99.5}) == ["ann"]


def test_consent(session: Session, base: dict[str, int]) -> None:
    assert _match(session, base, {"consent": {"channel": "email"}}) == ["ann"]
    rule = {"consent": {"channel": "email", "purpose": "marketing", "state": "withdrawn"}}
    assert _match(session, base, rule) == ["bob"]
    rule = {"consent": {"channel": "email", "state": "none"}}
    assert _match(session, base, rule) == ["cid", "dan"]


def test_orders_in_windows(session: Session, base: dict[str, int]) -> None:
    m = lambda r: _match(session, base, {"orders": r})  # noqa: E731
    assert m({"category": "running", "min_count": 2, "days": 180}) == ["ann"]
    assert m({"category": "sport", "min_count": 2, "days": 180}) == ["ann"]  # sub-categories
    assert m({"category": "running", "days": 30}) == ["bob"]  # the rival's order is no sale
    assert m({"category": "books", "max_count": 0}) == ["bob", "cid"]  # never bought books
    assert m({"min_amount": 150}) == ["ann"]
    assert m({"category": "running", "min_amount": 210}) == ["ann"]
    assert m({"since": "2026-06-01", "until": "2026-06-01"}) == ["bob"]
    assert m({"product": "NOVEL-1", "until": "2025-12-31"}) == ["dan"]
    assert _match(session, base, {"first_purchase": {"before": "2025-01-01"}}) == ["dan"]
    assert _match(session, base, {"first_purchase": {"after": "2024-12-31"}}) == ["ann", "bob"]


def test_three_conditions(session: Session, base: dict[str, int]) -> None:
    rules = {"all": [
        {"field": "tier", "op": "eq", "value": "A"},
        {"consent": {"channel": "email", "purpose": "marketing"}},
        {"orders": {"category": "running", "min_count": 2, "days": 180}},
    ]}  # fmt: skip
    assert _match(session, base, rules) == ["ann"]


def test_member_ids_of_dynamic_and_snapshot(
    factory: sessionmaker[Session], base: dict[str, int]
) -> None:
    from closedloop.segments.models import Segment

    with unit_of_work(factory) as s:
        seg = Segment(
            name="Men", kind="dynamic", rules={"field": "gender", "op": "eq", "value": "m"}
        )
        s.add(seg)
        s.flush()
        dynamic = seg.id
        snap = freeze_members(s, "Frozen", [base["cid"], base["ann"]], {"source": "test"}).id
    with unit_of_work(factory) as s:
        assert member_ids(s, dynamic) == [base["bob"], base["dan"]]
        assert member_ids(s, snap) == [base["ann"], base["cid"]]
        person(s, given_name="Eve", gender="m")
        assert len(member_ids(s, dynamic)) == 3  # sees the caller's own transaction


def test_unknown_names_are_errors_with_paths(session: Session, base: dict[str, int]) -> None:
    with pytest.raises(ValidationFailed) as err:
        count(session, {"all": [{"field": "tier", "value": "A"}, {"orders": {"category": "nope"}}]})
    assert err.value.errors == [
        {"field": "all[1].orders.category", "message": "there is no category 'nope'"}
    ]


def test_profile(session: Session, base: dict[str, int]) -> None:
    from closedloop.contacts.models import Email, Phone
    from closedloop.segments.profile import profile

    from .world import address

    session.add(
        Email(person_id=base["ann"], address="ann@example.com", address_key="ann@example.com")
    )
    session.add(
        Email(person_id=base["bob"], address="bob@example.com", address_key="bob@example.com")
    )
    session.add(Phone(person_id=base["cid"], e164="+33612345678", line_type="mobile"))
    address(session, base["ann"], region="Bretagne", country="FR")
    address(session, base["bob"], region="Bretagne", country="FR", status="suspect")
    p = profile(session, {"all": []}, today=TODAY)
    assert p.size == 4
    assert p.reachable == {"email": 1, "sms": 1, "phone": 0, "letter": 0}
    assert p.genders == [
        {"gender": "f", "count": 1},
        {"gender": "m", "count": 2},
        {"gender": None, "count": 1},
    ]
    assert {a["band"]: a["count"] for a in p.ages}["35-44"] == 2
    assert p.regions == [{"region": "Bretagne", "count": 2}]
    assert [(t["tier"], t["count"]) for t in p.tiers] == [("A", 1), ("B", 1)]
    assert p.value["clv"] == 249.5
