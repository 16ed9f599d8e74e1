"""Campaigns through their states: create, approve (four eyes), edit (a running campaign makes
a new version), pause (the sender holds), resume, cancel (queued messages skipped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests.integration.campaigns.waves import Rejecting, email_template, person, smtp

from closedloop.campaigns import lifecycle, service, versions
from closedloop.campaigns.ledger import queue_rows
from closedloop.campaigns.models import Campaign, Cell, Communication, Offer, Wave
from closedloop.campaigns.schemas import CampaignCreate, CampaignUpdate, CellCreate, WaveCreate
from closedloop.campaigns.sender import WaveSender
from closedloop.db.uow import unit_of_work
from closedloop.errors import Conflict, Refused, ValidationFailed
from closedloop.settings import get_settings
from closedloop.vocab import Channel


def _draft(s: Session, code: str = "SPRING", **kw: object) -> Campaign:
    email_template(s, code="spring-mail")
    s.add(Offer(code="PCT10", name="10% off", price=Decimal("9.90")))
    s.flush()
    data = CampaignCreate(
        code=code,
        name="Spring offers",
        objective="Sell more books in spring",
        offer="PCT10",
        budget=Decimal("500"),
        cost_per_contact=Decimal("0.02"),
        starts_on=datetime(2027, 3, 1).date(),
        ends_on=datetime(2027, 3, 31).date(),
        waves=[WaveCreate(name="Wave 1", expected_volume=1000)],
        cells=[
            CellCreate(
                code="A",
                name="Mail A",
                channel=Channel.EMAIL,
                offer="PCT10",
                template="spring-mail",
                price=Decimal("8.90"),
                share=0.9,
            ),
            CellCreate(code="CONTROL", name="Hold-out", is_control=True, share=0.1),
        ],
        **kw,  # type: ignore[arg-type]
    )
    return service.create_campaign(s, data, created_by="alice")


def test_a_campaign_is_created_as_a_draft_with_its_marketing_mix(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        shown = service.describe(s, _draft(s))
    assert shown.status == "draft" and shown.version == 1 and shown.created_by == "alice"
    assert shown.offer == "PCT10" and shown.cost_per_contact == Decimal("0.02")
    assert [(c.code, c.channel, c.template, c.price) for c in shown.cells] == [
        ("A", "email", "spring-mail", Decimal("8.90")),
        ("CONTROL", None, None, None),
    ]
    assert [(w.name, w.status, w.expected_volume) for w in shown.waves] == [
        ("Wave 1", "draft", 1000)
    ]


def test_bad_references_name_the_field_and_store_nothing(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        email_template(s, code="sms-not", locales=("en",))
    bad = CampaignCreate(
        code="BAD",
        name="Bad",
        cells=[CellCreate(code="A", name="A", channel=Channel.SMS, template="sms-not")],
    )
    with pytest.raises(ValidationFailed) as caught, unit_of_work(factory) as s:
        service.create_campaign(s, bad)
    assert caught.value.errors[0]["field"] == "cells[0].template"
    assert "email, not sms" in caught.value.detail
    with factory() as s:
        assert s.scalar(select(Campaign).where(Campaign.code == "BAD")) is None
    with pytest.raises(ValueError, match="control group gets no channel"):
        CellCreate(code="C", name="C", is_control=True, channel=Channel.EMAIL)


def test_approval_needs_a_complete_campaign_and_another_marketer_when_configured(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(factory) as s:
        empty = service.create_campaign(s, CampaignCreate(code="EMPTY", name="Empty"))
        cid = _draft(s).id
    with (
        pytest.raises(Refused, match="no wave; it has no cell that sends"),
        unit_of_work(factory) as s,
    ):
        lifecycle.approve(s, empty.id, by="bob")
    monkeypatch.setenv("CLOSEDLOOP_CAMPAIGN_APPROVAL_BY_OTHER", "true")
    get_settings.cache_clear()
    try:
        with pytest.raises(Refused, match="other than its author"), unit_of_work(factory) as s:
            lifecycle.approve(s, cid, by="alice")
        with unit_of_work(factory) as s:
            approved = lifecycle.approve(s, cid, by="bob")
            assert (approved.status, approved.approved_by) == ("approved", "bob")
    finally:
        get_settings.cache_clear()
    with (
        pytest.raises(Refused, match="is approved: it cannot be approved"),
        unit_of_work(factory) as s,
    ):
        lifecycle.approve(s, cid, by="bob")


def test_editing_an_approved_campaign_withdraws_the_approval(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        cid = _draft(s).id
        lifecycle.approve(s, cid, by="bob")
    with unit_of_work(factory) as s:
        result = versions.edit(s, cid, CampaignUpdate(name="Spring offers, v2"), by="alice")
    assert result.approval_withdrawn and not result.new_version
    with factory() as s:
        c = s.get(Campaign, cid)
        assert c is not None and (c.status, c.name, c.approved_by) == (
            "draft", "Spring offers, v2", None)  # fmt: skip


def _running(factory: sessionmaker[Session], n: int = 3) -> tuple[int, int, list[int]]:
    """A campaign launched by hand: approved, its wave running with ``n`` queued messages."""
    with unit_of_work(factory) as s:
        c = _draft(s)
        lifecycle.approve(s, c.id, by="bob")
        wave = s.scalars(select(Wave).where(Wave.campaign_id == c.id)).one()
        cell = s.scalars(select(Cell).where(Cell.campaign_id == c.id, Cell.code == "A")).one()
        people = [person(s, i) for i in range(n)]
        queue_rows(s, wave.id, cell.id, people)
        c.status, wave.status = "running", "running"
        return c.id, wave.id, people


def test_a_running_campaign_is_frozen_and_an_edit_makes_a_new_version(
    factory: sessionmaker[Session],
) -> None:
    cid, _wave_id, _people = _running(factory)
    with unit_of_work(factory) as s:
        s.add(Wave(campaign_id=cid, name="Wave 2", status="scheduled",
                   scheduled_at=datetime.now(UTC) + timedelta(days=7)))  # fmt: skip
    change = CampaignUpdate(objective="Sell even more", budget=Decimal("800"))
    with unit_of_work(factory) as s:
        result = versions.edit(s, cid, change, by="carol")
        new_id = result.campaign.id
    assert result.new_version
    with factory() as s:
        old, new = s.get(Campaign, cid), s.get(Campaign, new_id)
        assert old is not None and new is not None
        assert (old.status, old.objective, old.budget) == (
            "running", "Sell more books in spring", Decimal("500.00"))  # fmt: skip
        assert (new.code, new.version, new.previous_id, new.status, new.created_by) == (
            "SPRING", 2, cid, "draft", "carol")  # fmt: skip
        assert (new.objective, new.budget) == ("Sell even more", Decimal("800.00"))
        shown = service.describe(s, new)
        assert [c.code for c in shown.cells] == ["A", "CONTROL"]
        assert [w.name for w in shown.waves] == ["Wave 2"]  # only the waves not yet started
        assert service.find_campaign(s, "SPRING").id == new_id
        # the old version's sending still sees its own content
        assert s.scalar(select(Cell.template_id).where(Cell.campaign_id == cid, Cell.code == "A"))
    with pytest.raises(Conflict, match="already has a version 2"), unit_of_work(factory) as s:
        versions.edit(s, cid, change, by="carol")


def test_pause_holds_the_sender_and_resume_sends_the_rest(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    cid, wave_id, _people = _running(factory)
    with unit_of_work(factory) as s:
        lifecycle.pause(s, cid)
    handler = Rejecting()
    with smtp(handler, monkeypatch):
        report = WaveSender(factory, wave_id).run()
        assert report.held == "campaign SPRING is paused" and report.sent == 0
        assert handler.received == []
        with unit_of_work(factory) as s:
            resumed = lifecycle.resume(s, cid, by="bob")
        assert resumed.status == "running" and [w.wave_id for w in resumed.started] == [wave_id]
        report = WaveSender(factory, wave_id).run()
    assert report.sent == 3 and sorted(handler.received) == sorted(
        f"reader{i}@example.org" for i in range(3)
    )
    with unit_of_work(factory) as s:
        assert lifecycle.settle(s, cid).status == "completed"


def test_cancel_skips_the_queued_messages_and_ends_the_campaign(
    factory: sessionmaker[Session],
) -> None:
    cid, wave_id, _people = _running(factory)
    with unit_of_work(factory) as s:
        campaign, skipped = lifecycle.cancel(s, cid)
    assert skipped == 3 and campaign.status == "cancelled"
    with factory() as s:
        rows = s.scalars(select(Communication).where(Communication.wave_id == wave_id)).all()
        assert {(r.status, r.detail) for r in rows} == {("skipped", "the campaign was cancelled")}
    for move in (lambda s: lifecycle.pause(s, cid), lambda s: lifecycle.cancel(s, cid)):
        with pytest.raises(Refused, match="is cancelled"), unit_of_work(factory) as s:
            move(s)
