"""Rules over related records and history: households (with a cycle of links), employers,
catalogue attributes, campaign history, places, survey answers; snapshots whose members are
merged or erased afterwards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication
from closedloop.contacts.models import (
    AttributeChoice,
    AttributeDefinition,
    AttributeValue,
    Household,
    Organisation,
    Relationship,
)
from closedloop.contacts.service import delete_person
from closedloop.db.uow import unit_of_work
from closedloop.dedupe.merge import merge_persons
from closedloop.errors import ValidationFailed
from closedloop.responses.models import Answer, Question, Response, Survey
from closedloop.segments import count, freeze_members, member_ids, rule_member_ids

from .world import TODAY, address, person


def _ids(s: Session, rule: dict) -> list[int]:
    found = rule_member_ids(s, rule, today=TODAY)
    assert count(s, rule, today=TODAY) == len(found)
    return found


def test_households_with_a_cycle_and_employers(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ann, bob, cid, dan = (
            person(s, given_name=n, gender=g)
            for n, g in (("Ann", "f"), ("Bob", "m"), ("Cid", "m"), ("Dan", "m"))
        )
        home = Household(name="Ash")
        s.add(home)
        s.flush()
        for pid in (ann, bob):
            s.add(Relationship(person_id=pid, kind="household_member", household_id=home.id))
        # A cycle of person links: Ann → Bob → Ann (referred by each other).
        s.add(Relationship(person_id=ann, kind="referred_by", related_person_id=bob))
        s.add(Relationship(person_id=bob, kind="referred_by", related_person_id=ann))
        shop = Organisation(name="Shop", name_key="shop", industry="retail")
        bank = Organisation(name="Bank", name_key="bank", industry="finance")
        s.add_all([shop, bank])
        s.flush()
        s.add(Relationship(person_id=cid, kind="employee_of", organisation_id=shop.id))
        s.add(Relationship(person_id=dan, kind="employee_of", organisation_id=bank.id,
                           ends_on=date(2020, 1, 1)))  # fmt: skip
        s.add(Relationship(person_id=bob, kind="decision_maker", organisation_id=bank.id))
    with factory() as s:
        woman = {"field": "gender", "value": "f"}
        assert _ids(s, {"household": woman}) == [bob]  # not Ann herself
        assert _ids(s, {"household": {"household": woman}}) == [ann]  # around the cycle
        assert _ids(s, {"employer": {"field": "industry", "value": "retail"}}) == [cid]
        assert _ids(s, {"employer": {"field": "industry", "value": "finance"}}) == [bob]
        assert _ids(s, {"not": {"employer": {"all": []}}}) == [ann, dan]


def test_attributes_campaigns_places_surveys(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ann, bob, cid = (person(s, given_name=n) for n in ("Ann", "Bob", "Cid"))
        size = AttributeDefinition(code="shoe_size", group="demographic", type="number")
        sport = AttributeDefinition(code="sport", group="interests", type="multi_choice")
        s.add_all([size, sport])
        s.flush()
        run, swim = AttributeChoice(definition_id=sport.id, code="run"), AttributeChoice(
            definition_id=sport.id, code="swim", position=1)  # fmt: skip
        s.add_all([run, swim])
        s.flush()
        s.add(AttributeValue(definition_id=size.id, person_id=ann, value_number=Decimal(38)))
        s.add(AttributeValue(definition_id=size.id, person_id=bob, value_number=Decimal(44)))
        s.add(AttributeValue(definition_id=sport.id, person_id=ann, choice_id=run.id))
        s.add(AttributeValue(definition_id=sport.id, person_id=ann, choice_id=swim.id))
        s.add(AttributeValue(definition_id=sport.id, person_id=cid, choice_id=swim.id))
        camp = Campaign(code="SPRING", name="Spring")
        s.add(camp)
        s.flush()
        mail, control = Cell(campaign_id=camp.id, code="A", name="A"), Cell(
            campaign_id=camp.id, code="C", name="Control", is_control=True)  # fmt: skip
        s.add_all([mail, control])
        s.flush()
        s.add_all(
            [
                CampaignMember(campaign_id=camp.id, cell_id=mail.id, person_id=ann),
                CampaignMember(campaign_id=camp.id, cell_id=mail.id, person_id=bob),
                CampaignMember(campaign_id=camp.id, cell_id=control.id, person_id=cid),
            ]
        )
        for pid in (ann, bob):
            s.add(Communication(person_id=pid, campaign_id=camp.id, channel="email",
                                status="sent"))  # fmt: skip
        s.add(
            Response(
                person_id=ann,
                campaign_id=camp.id,
                kind="click",
                occurred_at=TODAY and __import__("datetime").datetime(2026, 6, 1),
            )
        )
        survey = Survey(code="nps", title="NPS")
        s.add(survey)
        s.flush()
        q = Question(survey_id=survey.id, text="Score?", kind="nps")
        s.add(q)
        s.flush()
        s.add(Answer(question_id=q.id, person_id=bob, answer_number=Decimal(9)))
        s.add(Answer(question_id=q.id, person_id=cid, answer_number=Decimal(3)))
        address(s, ann, latitude=48.8566, longitude=2.3522, postal_code="75001", country="FR")
        address(s, bob, latitude=48.80, longitude=2.13, postal_code="78000", country="FR")
        address(s, cid, latitude=45.764, longitude=4.8357, postal_code="69001", country="FR")
        qid = q.id
    with factory() as s:
        assert _ids(s, {"attribute": {"code": "shoe_size", "op": "gte", "value": 40}}) == [bob]
        assert _ids(s, {"attribute": {"code": "sport", "value": "swim"}}) == [ann, cid]
        assert _ids(s, {"attribute": {"code": "sport", "op": "is_null"}}) == [bob]
        with pytest.raises(ValidationFailed) as err:
            count(s, {"attribute": {"code": "sport", "value": "golf"}})
        assert err.value.errors[0]["field"] == "attribute.value"
        no_reply = {"campaign": {"code": "SPRING", "received": True, "responded": False}}
        assert _ids(s, no_reply) == [bob]
        assert _ids(s, {"campaign": {"code": "SPRING", "control": True}}) == [cid]
        assert _ids(s, {"campaign": {"code": "SPRING"}}) == [ann, bob, cid]
        assert _ids(s, {"near": {"postal_code": "75001", "country": "FR", "km": 10}}) == [ann]
        assert _ids(s, {"near": {"postal_code": "75001", "km": 25}}) == [ann, bob]
        assert _ids(s, {"near": {"latitude": 45.75, "longitude": 4.85, "km": 5}}) == [cid]
        assert _ids(s, {"field": "postal_code", "op": "starts_with", "value": "7"}) == [ann, bob]
        assert _ids(s, {"survey": {"question": qid, "op": "gte", "value": 9}}) == [bob]
        assert _ids(s, {"survey": {"question": qid, "op": "is_null"}}) == [ann]
        with pytest.raises(ValidationFailed) as err:
            count(s, {"all": [{"near": {"postal_code": "00000", "km": 1}}]})
        assert err.value.errors[0]["field"] == "all[0].near"


def test_snapshot_members_merged_or_erased_after(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ann, bob, cid = (person(s, given_name=n, gender="f") for n in ("Ann", "Bob", "Cid"))
        gold = person(s, given_name="Gold")
        snap = freeze_members(s, "Women", rule_member_ids(s, {"field": "gender", "value": "f"}),
                              {"source": "test"}).id  # fmt: skip
    with unit_of_work(factory) as s:
        merge_persons(s, gold, ann)
        delete_person(s, cid)
    with factory() as s:
        assert member_ids(s, snap) == [bob, gold]
        # The dynamic rule sees golden records only: Ann is merged away (Gold took her gender).
        assert _ids(s, {"field": "gender", "value": "f"}) == [bob, gold]


def test_empty_segments(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        assert _ids(s, {"all": []}) == []
        assert _ids(s, {"orders": {"max_count": 0}}) == []
        assert _ids(s, {"not": {"any": []}}) == []
